/** A TCP port that is free on 127.0.0.1 right now, for throwaway servers a test starts itself. */
export { freePort } from '../../scripts/stack/net.js';
