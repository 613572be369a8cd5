//! Diagnostics for the local CLI: parse saved tool output, collect once and print.
