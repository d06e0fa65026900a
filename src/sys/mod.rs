//! Syscalls, one module per platform family (the layout mio uses in `src/sys/`).
//!
//! `unix` holds what every POSIX system shares; `linux` and `other` hold what differs (pipe
//! resizing, `pipe2`, how SIGPIPE is kept from killing the host). Nothing outside `sys` calls
//! `libc` directly.

#[cfg(unix)]
mod unix;
#[cfg(unix)]
pub use unix::*;

#[cfg(any(target_os = "linux", target_os = "android"))]
mod linux;
#[cfg(any(target_os = "linux", target_os = "android"))]
pub use linux::*;

#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
mod other;
#[cfg(all(unix, not(any(target_os = "linux", target_os = "android"))))]
pub use other::*;

#[cfg(not(unix))]
compile_error!("process-writer supports Unix-like systems only (Linux, macOS, the BSDs); Windows pipes have no readiness notification (see README)");
