/**
 * What crosses to the embedded store's threads: a call of an aggregate port's method, or of
 * one of the thread's own, and where each port method runs.
 */
import type { Store } from '../store.js';

/** Store's aggregate ports by name. */
export type Ports = Pick<
  Store,
  'accounts' | 'conversations' | 'messages' | 'search' | 'social' | 'push' | 'values' | 'uploads'
>;
export type Aggregate = keyof Ports;
export type PortMethod<A extends Aggregate> = keyof Ports[A] & string;

/** The thread's own methods: packed appends (append-codec.ts), checkpoints and lifecycle. */
export type ThreadMethod = 'appendPacked' | 'walCheckpoint' | 'ping' | 'close';

/**
 * A call's target: `aggregate` names the port (absent for the thread's own methods). Its
 * method is a name from ROUTES, or any other a caller reached the port with (answered with
 * an error by the store thread).
 */
export type Target =
  { aggregate: Aggregate; method: string } | { aggregate?: undefined; method: ThreadMethod };

export type Call = Target & { id: number; args: unknown[] };

export type Reply =
  | { id: number; ok: true; value: unknown }
  | { id: number; ok: false; error: { code?: string; message: string; sqlite?: string } };

/**
 * - `writer`: the store thread, in order with every write;
 * - `reader`: pure reads served by the reader thread's own connection, so that they do not
 *   queue behind the commits on the store thread. WAL gives that connection a snapshot that
 *   includes every transaction committed before the read started; a read is posted only after
 *   the caller saw the results of the writes it awaited (the store thread replies after COMMIT
 *   returns), so a read sees every write that completed before it was issued. Writes still in
 *   flight when a read is issued may or may not be seen, as with any concurrent caller;
 * - `inline`: history pages, read on the calling (main) thread from a read-only connection of
 *   its own, else like `reader`. A page is an index range of at most a few hundred rows,
 *   usually cached: a fraction of a millisecond of work, where a trip to the reader thread and
 *   back costs two thread wake-ups that each wait for a core on a busy machine. Measured with
 *   `npm run bench -- --scenario history` (dm at 5,000 msgs/s, three alternating pairs): page
 *   p99 8.4 / 9.3 / 6.6 ms on the reader thread, 3.8 / 4.7 / 4.9 ms here, and the server used
 *   less CPU. Connection setup reads (token, feed head, presence audience) stay on the reader
 *   thread: batched per turn they run beside the event loop, and inline they cost connects/s
 *   (docs/performance.md);
 * - `search`: full-text searches, on a reader thread of their own. One takes milliseconds to
 *   tens of milliseconds over a large history; on the reader thread a few of them in a row
 *   held back the catch-up reads and token lookups of every connecting device.
 */
export type Route = 'writer' | 'reader' | 'inline' | 'search';

/** Where every method of every port runs: a new method fails to compile until it has a route. */
export const ROUTES: { readonly [A in Aggregate]: { readonly [M in PortMethod<A>]: Route } } = {
  accounts: {
    createUser: 'writer',
    getUserById: 'reader',
    getUserByUsername: 'reader',
    getUsersByIds: 'reader',
    setDisplayName: 'writer',
    getPrivacy: 'reader',
    setPrivacy: 'writer',
    getPrivacies: 'reader',
    setPushPreview: 'writer',
    setLastActive: 'writer',
    createDevice: 'writer',
    getDevicesByTokenHashes: 'reader',
    listDevices: 'reader',
    revokeDevice: 'writer',
    touchDevices: 'writer',
  },
  conversations: {
    getOrCreateDirect: 'writer',
    findDirect: 'reader',
    createdSince: 'reader',
    acceptRequest: 'writer',
    dismissRequest: 'writer',
    createGroup: 'writer',
    getConversation: 'reader',
    renameGroup: 'writer',
    getMember: 'reader',
    listMembers: 'reader',
    addMembers: 'writer',
    removeMember: 'writer',
    getLeft: 'writer',
    listLeft: 'writer',
    deleteLeft: 'writer',
    setRole: 'writer',
    listConversations: 'reader',
    getConversationSummary: 'reader',
    setMute: 'writer',
  },
  messages: {
    // Packed across the thread (append-codec.ts).
    appendMessages: 'writer',
    history: 'inline',
    historyJson: 'inline',
    readFeed: 'reader',
    readFeeds: 'reader',
    feedHead: 'reader',
    feedHeads: 'reader',
    setReadSeq: 'writer',
    setDeliveredSeqs: 'writer',
    messageAt: 'reader',
    pinned: 'reader',
    mentionsOf: 'reader',
    savedOf: 'reader',
  },
  search: {
    search: 'search',
    indexText: 'writer',
    unindex: 'writer',
  },
  social: {
    presenceAudiences: 'reader',
    acceptedContacts: 'reader',
    relatedUsers: 'writer',
    visibleTo: 'reader',
    listContacts: 'reader',
    getContactState: 'reader',
    setContactPair: 'writer',
    recordDecline: 'writer',
    declinedAt: 'reader',
    block: 'writer',
    unblock: 'writer',
    isBlockedEither: 'reader',
    blockedAmong: 'reader',
    listBlocked: 'reader',
  },
  push: {
    savePushSubscription: 'writer',
    listPushSubscriptions: 'reader',
    deletePushSubscription: 'writer',
    pushTargets: 'reader',
    enqueuePushJobs: 'writer',
    claimPushJobs: 'writer',
    finishPushJob: 'writer',
    retryPushJob: 'writer',
    purgePushJobs: 'writer',
    dropMessagePushJobs: 'writer',
  },
  values: {
    serverValue: 'writer',
  },
  uploads: {
    createUpload: 'writer',
    finishUpload: 'writer',
    getUpload: 'reader',
    // Read before a create that it limits: on the writer, so it sees every create before it.
    uploadUsage: 'writer',
    claimUploads: 'writer',
    releaseUploads: 'writer',
    detachUploads: 'writer',
    staleUploads: 'reader',
    deleteUpload: 'writer',
    canReadUpload: 'reader',
  },
};
