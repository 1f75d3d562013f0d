//! What keeps the process itself in shape, whatever it serves: `/metrics` ([`metrics`]), log
//! lines written off the serving threads ([`log_output`]), memory handed back to the operating
//! system ([`memory`]) and locks that survive a panicking holder ([`mutexes`]).

pub mod log_output;
pub mod memory;
pub mod metrics;
pub mod mutexes;
