// jsdom lacks these; components call them only when present.
export {};
