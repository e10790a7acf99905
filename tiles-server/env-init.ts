// Imported first by main.ts: libuv reads this when its thread pool starts.
// File reads and libvips work share the pool; the default of 4 starves it.
process.env.UV_THREADPOOL_SIZE ??= '8';
export {};
