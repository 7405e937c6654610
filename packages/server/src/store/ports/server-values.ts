/** Server-wide values shared by every server of a deployment (VAPID keys). */

export interface ServerValueStore {
  /**
   * A server-wide value (VAPID keys): the stored one, or `value` stored now if there is none.
   * Servers starting at once all get the first one stored.
   */
  serverValue(key: string, value: string): Promise<string>;
}
