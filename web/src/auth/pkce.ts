/**
 * PKCE (RFC 7636) and the random `state`, on the browser's Web Crypto: random bytes from
 * crypto.getRandomValues, SHA-256 from crypto.subtle. No crypto is written here.
 *
 * Why not a library: oauth4webapi (the well-kept candidate) checks an ID token's `iss` against
 * the authorization server's issuer, which for Cognito is the user pool's URL, not the hosted UI
 * domain our /api/auth/config names; and its code would be most of a sign-in module this small
 * (it weighs ~100 KB unminified). What is left — two random strings, one digest, two form POSTs —
 * is a few lines over the platform's own primitives.
 */

export function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const b of bytes) text += String.fromCharCode(b);
  return btoa(text).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** `n` random bytes as base64url: 32 bytes give a 43-character verifier (RFC 7636 4.1). */
export function randomToken(n = 32): string {
  return base64url(crypto.getRandomValues(new Uint8Array(n)));
}

/** The S256 code challenge of a verifier: base64url(SHA-256(ascii(verifier))). */
export async function codeChallenge(verifier: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(verifier));
  return base64url(new Uint8Array(digest));
}
