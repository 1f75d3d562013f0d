//! What keeps the process itself in shape, whatever it serves: `/metrics` ([`metrics`]), log
//! lines written off the serving threads ([`log_output`]), memory handed back to the operating
//! system ([`memory`]), locks that survive a panicking holder ([`mutexes`]), and the HTTP
//! client natter calls out with ([`outbound`]).

pub mod log_output;
pub mod memory;
pub mod metrics;
pub mod mutexes;
pub mod outbound;
