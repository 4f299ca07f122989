//! The client's address, decided once for every surface that keys something on it (the API's
//! rate limits and request log, the dashboard's sign-in throttle): the socket's peer, or, when
//! the peer is one of the trusted proxies (`MYPOSTSHARE_TRUSTED_PROXIES`), the right-most
//! address of `X-Forwarded-For` that is not a trusted proxy.
//!
//! Right-most, because each proxy appends the address it received the request from: entries
//! to the left of the first untrusted one were written by that client itself and can say
//! anything. A proxy that is not configured as trusted is the client, whatever it forwards.
//! The `Forwarded` header (RFC 7239) is not read: the usual proxies (nginx, Caddy, Traefik,
//! HAProxy) set `X-Forwarded-For` by default.

use crate::http::Request;
use std::net::{IpAddr, SocketAddr};

/// The client's address of `req`, or `None` when the request did not come over a socket (a
/// request built in a unit test).
pub fn of_request(req: &Request, trusted_proxies: &[IpAddr]) -> Option<IpAddr> {
    let peer = req.remote_addr?.ip();
    // Several `X-Forwarded-For` lines are one list in the order they came (RFC 9110, 5.3).
    let forwarded: Vec<&str> = req
        .headers
        .iter()
        .filter(|(name, _)| name.eq_ignore_ascii_case("x-forwarded-for"))
        .flat_map(|(_, value)| value.split(','))
        .collect();
    Some(resolve(peer, &forwarded, trusted_proxies))
}

/// The rule itself: walk from the peer leftwards through `forwarded_for` while the hop is a
/// trusted proxy; the first hop that is not one is the client. When every hop is trusted the
/// left-most is the client (a request from a proxy's own host); when an entry is not an
/// address the walk stops at the hop that forwarded it, since nothing left of it can be read.
pub fn resolve(peer: IpAddr, forwarded_for: &[&str], trusted_proxies: &[IpAddr]) -> IpAddr {
    let trusted = |ip: IpAddr| trusted_proxies.iter().any(|t| t.to_canonical() == ip);
    let mut client = peer.to_canonical();
    for entry in forwarded_for.iter().rev() {
        if !trusted(client) {
            break;
        }
        match parse_entry(entry) {
            Some(ip) => client = ip,
            None => break,
        }
    }
    client
}

/// One entry of `X-Forwarded-For`: an address, possibly with a port (`203.0.113.7:4711`,
/// `[2001:db8::1]:4711`), as some proxies write it. IPv4-mapped IPv6 addresses count as the
/// IPv4 address they carry, as a dual-stack socket reports them.
fn parse_entry(entry: &str) -> Option<IpAddr> {
    let entry = entry.trim();
    let ip = entry
        .parse::<IpAddr>()
        .ok()
        .or_else(|| entry.parse::<SocketAddr>().ok().map(|a| a.ip()))
        .or_else(|| {
            entry
                .strip_prefix('[')
                .and_then(|e| e.strip_suffix(']'))
                .and_then(|e| e.parse::<IpAddr>().ok())
        })?;
    Some(ip.to_canonical())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn an_untrusted_peer_is_the_client_whatever_it_forwards() {
        assert_eq!(
            resolve(ip("198.51.100.9"), &["203.0.113.7"], &[ip("10.0.0.1")]),
            ip("198.51.100.9")
        );
        assert_eq!(resolve(ip("198.51.100.9"), &[], &[]), ip("198.51.100.9"));
    }

    #[test]
    fn behind_trusted_proxies_the_right_most_untrusted_address_is_the_client() {
        let proxies = [ip("10.0.0.1"), ip("10.0.0.2")];
        // The client forged the first entry; the proxies appended the rest.
        let forwarded = ["1.2.3.4", " 203.0.113.7", "10.0.0.2 "];
        assert_eq!(
            resolve(ip("10.0.0.1"), &forwarded, &proxies),
            ip("203.0.113.7")
        );
        // A proxy that forgot to add the header: the proxy is all we know.
        assert_eq!(resolve(ip("10.0.0.1"), &[], &proxies), ip("10.0.0.1"));
        // Every hop trusted: the left-most is the client.
        assert_eq!(
            resolve(ip("10.0.0.1"), &["10.0.0.2"], &proxies),
            ip("10.0.0.2")
        );
    }

    #[test]
    fn an_unreadable_entry_stops_the_walk_at_the_hop_that_forwarded_it() {
        let proxies = [ip("10.0.0.1")];
        assert_eq!(
            resolve(ip("10.0.0.1"), &["203.0.113.7", "unknown"], &proxies),
            ip("10.0.0.1")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &["garbage", "203.0.113.7"], &proxies),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn ports_brackets_and_mapped_addresses_are_read() {
        let proxies = [ip("10.0.0.1")];
        assert_eq!(
            resolve(ip("10.0.0.1"), &["203.0.113.7:4711"], &proxies),
            ip("203.0.113.7")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &["[2001:db8::1]:4711"], &proxies),
            ip("2001:db8::1")
        );
        assert_eq!(
            resolve(ip("10.0.0.1"), &["[2001:db8::1]"], &proxies),
            ip("2001:db8::1")
        );
        // A dual-stack socket reports an IPv4 proxy as ::ffff:10.0.0.1.
        assert_eq!(
            resolve(ip("::ffff:10.0.0.1"), &["203.0.113.7"], &proxies),
            ip("203.0.113.7")
        );
    }

    #[test]
    fn every_forwarded_for_line_counts_in_order() {
        let mut req = Request::new("GET", "/v1/posts");
        req.remote_addr = Some("10.0.0.1:5000".parse().unwrap());
        req.headers = vec![
            ("X-Forwarded-For".into(), "1.2.3.4, 203.0.113.7".into()),
            ("x-forwarded-for".into(), "198.51.100.9".into()),
        ];
        assert_eq!(
            of_request(&req, &[ip("10.0.0.1")]),
            Some(ip("198.51.100.9"))
        );
        assert_eq!(of_request(&req, &[]), Some(ip("10.0.0.1")));
        assert_eq!(of_request(&Request::new("GET", "/"), &[]), None);
    }
}
