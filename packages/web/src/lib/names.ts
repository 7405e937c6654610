import type { User } from '@parley/client';

/**
 * What a display name looks like, for telling look-alikes apart: compatibility forms folded
 * (fullwidth, ligatures), case and accents dropped, runs of spaces made one.
 */
export function nameKey(name: string): string {
  return name
    .normalize('NFKD')
    .replace(/\p{M}/gu, '')
    .normalize('NFKC')
    .toLowerCase()
    .replace(/\s+/gu, ' ')
    .trim();
}

/**
 * The display name, with the username beside it when another user known to this app has a
 * display name that looks the same: the username is the identity, a display name is not.
 */
export function distinctName(user: User, users: ReadonlyMap<string, User>): string {
  const key = cachedKey(user.displayName);
  for (const other of users.values()) {
    if (other.id !== user.id && cachedKey(other.displayName) === key) {
      return `${user.displayName} (@${user.username})`;
    }
  }
  return user.displayName;
}

/** Keys by display name: a list render compares every row's name with every known user's. */
const keys = new Map<string, string>();

function cachedKey(name: string): string {
  let key = keys.get(name);
  if (key === undefined) {
    if (keys.size >= 10_000) keys.clear();
    key = nameKey(name);
    keys.set(name, key);
  }
  return key;
}
