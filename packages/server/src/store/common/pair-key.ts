/** A map key of two ids: unambiguous, since the first (a server-made id) never holds NUL. */
export const pairKey = (a: string, b: string): string => `${a}\u0000${b}`;
