import { MemoryLogStore, type LogStore } from '../../src/storage/index.js';
import { logStoreContract } from './log-store-contract.js';

logStoreContract('MemoryLogStore', {
  open: async () => new MemoryLogStore(),
  reopen: async (store: LogStore) => (store as MemoryLogStore).reopen(),
  dispose: (store: LogStore) => store.close(),
});
