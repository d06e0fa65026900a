//! Syscalls, one module per platform family (the layout mio uses in `src/sys/`).
//!
//! `unix` holds what every POSIX system shares; `linux` and `other` hold what differs (pipe
//! resizing, `pipe2`, how SIGPIPE is kept from killing the host). `windows` holds the Windows
//! port (overlapped named pipes through mio's `NamedPipe`). Nothing outside `sys` calls `libc`
//! or `windows-sys` directly; each family exports the same names, including the I/O thread's
//! view of a writer's end, `Output`.

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

#[cfg(windows)]
mod windows;
#[cfg(windows)]
pub use windows::*;

#[cfg(not(any(unix, windows)))]
compile_error!("process-writer supports Unix-like systems (Linux, macOS, the BSDs) and Windows only");
