//! Binding the listener: one address (`HTTP_ADDRESS`), or every interface, IPv6 and IPv4
//! on one dual-stack socket (`[::]` with `IPV6_V6ONLY` off), or `0.0.0.0` where the host
//! has no IPv6.

use socket2::{Domain, Protocol, Socket, Type};
use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use tokio::net::TcpListener;

/// Pending connections the kernel queues (beyond `HTTP_MAX_CONNECTIONS` they wait there).
const BACKLOG: i32 = 1024;

/// Binds `address:port`, or every interface when `address` is `None` (see the module
/// doc). Port 0 takes any free port. Must run inside the Tokio runtime.
pub fn bind(address: Option<IpAddr>, port: u16) -> io::Result<TcpListener> {
    let listener = match address {
        Some(ip) => listen(SocketAddr::new(ip, port), false)?,
        None => match listen(SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), port), true) {
            Ok(listener) => listener,
            Err(error) if ipv6_unavailable(&error) => {
                tracing::warn!(
                    "IPv6 is unavailable here ({error}); listening on IPv4 only (0.0.0.0)"
                );
                listen(SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), port), false)?
            }
            Err(error) => return Err(error),
        },
    };
    TcpListener::from_std(listener)
}

/// A listening, non-blocking socket on `address`; an IPv6 socket accepts IPv4 too when
/// `dual_stack`, and only IPv6 otherwise.
fn listen(address: SocketAddr, dual_stack: bool) -> io::Result<std::net::TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    if address.is_ipv6() {
        socket.set_only_v6(!dual_stack)?;
    }
    // As std and Tokio do on Unix: a restarted process can bind while old connections
    // of the previous one are in TIME_WAIT.
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.set_nonblocking(true)?;
    socket.bind(&address.into())?;
    socket.listen(BACKLOG)?;
    Ok(socket.into())
}

/// Whether binding `[::]` failed because the host has no IPv6 (the address family is not
/// supported, or no IPv6 address can be bound), not because the port is taken or denied.
fn ipv6_unavailable(error: &io::Error) -> bool {
    !matches!(
        error.kind(),
        io::ErrorKind::AddrInUse | io::ErrorKind::PermissionDenied
    )
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
    use super::*;

    #[test]
    fn a_taken_port_or_a_denied_bind_is_not_mistaken_for_missing_ipv6() {
        assert!(!ipv6_unavailable(&io::Error::from(
            io::ErrorKind::AddrInUse
        )));
        assert!(!ipv6_unavailable(&io::Error::from(
            io::ErrorKind::PermissionDenied
        )));
        assert!(ipv6_unavailable(&io::Error::from(
            io::ErrorKind::AddrNotAvailable
        )));
    }
}
