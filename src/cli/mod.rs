//! Bodies of command-line commands, so that `main.rs` only parses and dispatches. Each answers
//! the exit code, or a message for the operator.

pub mod backup;
