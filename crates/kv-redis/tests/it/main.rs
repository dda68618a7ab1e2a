//! kv-redis against real servers: the contract on both backends (`contract`), and what only a
//! remote store has: isolation of hostile names, credentials, dead servers, several processes.

mod contract;
mod redis_only;
mod support;
