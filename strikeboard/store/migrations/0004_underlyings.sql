-- Many underlyings (issue 15): every instrument names the underlying it belongs to, so that
-- a tick (keyed by token) is archived under its underlying: ticks JOIN instruments. The feed
-- sets it on each daily upsert (strikeboard.market.underlyings.underlying_of); NULL for the
-- dump's other rows (equities, indices no underlying follows).
ALTER TABLE instruments ADD COLUMN underlying text;

-- Rows archived before: contracts are named after their underlying; NIFTY 50 and INDIA VIX
-- were the only indices followed. A migration, not a wipe: nothing else changes.
UPDATE instruments SET underlying = name
    WHERE expiry IS NOT NULL
      AND name IN ('NIFTY', 'BANKNIFTY', 'FINNIFTY', 'MIDCPNIFTY', 'SENSEX', 'BANKEX');
UPDATE instruments SET underlying = 'NIFTY'
    WHERE segment = 'INDICES' AND tradingsymbol IN ('NIFTY 50', 'INDIA VIX');

CREATE INDEX instruments_underlying ON instruments (underlying, instrument_token);
