"""One stack per file: network, data, feed, api, jobs, web."""
