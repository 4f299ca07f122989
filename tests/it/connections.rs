//! How the server treats connections: keep-alive clients across the idle timeout, clients that
//! trickle their request head, too many connections from one address, bytes a header must not
//! carry, and the HTTP method semantics every route shares (`Allow`, `HEAD`, `OPTIONS`).

use crate::support::{TestApp, send};
use mypostshare::http::server::{ServerOptions, serve};
use mypostshare::http::{Request, Response};
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn hello_server(options: ServerOptions) -> mypostshare::http::server::ServerHandle {
    serve(
        TcpListener::bind("127.0.0.1:0").unwrap(),
        options,
        Arc::new(|_: &Request| Response::json(200, &json!({"ok": true}))),
    )
    .unwrap()
}

/// Reads what the server sends until it closes the connection.
fn read_until_closed(stream: &mut TcpStream) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let mut buf = Vec::new();
    stream
        .read_to_end(&mut buf)
        .expect("the server closes the connection");
    String::from_utf8_lossy(&buf).into_owned()
}

/// The JSON body of a raw HTTP/1.1 answer.
fn body_of(raw: &str) -> Value {
    let body = raw.split_once("\r\n\r\n").map(|(_, b)| b).unwrap_or("");
    serde_json::from_str(body).unwrap_or_else(|e| panic!("not JSON ({e}): {raw}"))
}

/// The bug this guards against: with timeouts on the listening socket, `accept()` failed after
/// 10 s without a new connection, the listener was replaced, and the next request of a pooled
/// connection hung for 10 s and ended in an empty 500. One keep-alive client, once a second,
/// for 30 s: every answer is a 2xx, quickly.
#[test]
fn a_keep_alive_client_calling_once_a_second_is_always_answered() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let client = crate::support::agent();
    let url = format!("{}/api/v1/end-users/u1", app.base);
    let auth = format!("Bearer {}", app.key);
    let mut slowest = Duration::ZERO;
    for call in 0..30 {
        let started = Instant::now();
        let response = client
            .get(&url)
            .set("Authorization", &auth)
            .call()
            .unwrap_or_else(|e| panic!("call {call}: {e}"));
        let took = started.elapsed();
        slowest = slowest.max(took);
        assert_eq!(response.status(), 200, "call {call}");
        assert!(
            took < Duration::from_secs(1),
            "call {call} took {took:?}: a pooled connection was left hanging"
        );
        assert_eq!(response.header("Keep-Alive"), Some("timeout=5"));
        std::thread::sleep(Duration::from_secs(1));
    }
    eprintln!("slowest of 30 keep-alive calls: {slowest:?}");
}

/// The same between the appliance and its simulator, whose adapters keep pooled connections:
/// a post every two seconds for 30 s, each one published.
#[test]
fn publishing_every_two_seconds_keeps_the_pooled_simulator_connections_healthy() {
    let app = TestApp::start();
    app.upsert_user("u1");
    app.connect_linkedin("u1", "Alex Morgan");
    for n in 0..15 {
        let reply = app.publish("u1", &format!("post number {n}"));
        let post = reply.json();
        assert_eq!(post["status"], "published", "post {n}: {post}");
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// An idle keep-alive connection is closed cleanly after the announced time: no bytes, no 500.
#[test]
fn an_idle_keep_alive_connection_is_closed_without_a_response() {
    let handle = hello_server(ServerOptions {
        keep_alive: Duration::from_secs(1),
        access_log: false,
        ..ServerOptions::new("test")
    });
    let mut stream = TcpStream::connect(handle.addr()).unwrap();
    stream
        .write_all(b"GET /a HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut first = [0u8; 4096];
    let n = stream.read(&mut first).unwrap();
    let head = String::from_utf8_lossy(&first[..n]).to_string();
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.contains("Keep-Alive: timeout=1"), "{head}");
    let idle_from = Instant::now();
    let rest = read_until_closed(&mut stream);
    assert_eq!(rest, "", "the idle close sends nothing");
    assert!(idle_from.elapsed() >= Duration::from_millis(900));
    handle.shutdown();
}

/// 200 clients each trickle one byte of a request head every 2 s: each is answered 408 and
/// dropped at the head deadline, however steadily it trickles, while another client is served.
#[test]
fn clients_trickling_their_head_are_dropped_at_the_deadline_while_others_are_served() {
    let head_timeout = Duration::from_secs(3);
    let handle = hello_server(ServerOptions {
        head_timeout,
        io_timeout: Duration::from_secs(10),
        threads: 2,
        access_log: false,
        ..ServerOptions::new("test")
    });
    let addr = handle.addr();
    let request = b"GET /slow HTTP/1.1\r\nHost: t\r\nX-Padding: aaaaaaaaaaaaaaaaaaaa\r\n\r\n";
    // Connected one after another: 200 connects at once would overflow the listen backlog,
    // and the kernel would hold some back for a while before the server could even see them.
    let streams: Vec<(TcpStream, Instant)> = (0..200)
        .map(|_| (TcpStream::connect(addr).unwrap(), Instant::now()))
        .collect();
    let tricklers: Vec<_> = streams
        .into_iter()
        .map(|(mut stream, started)| {
            std::thread::spawn(move || {
                for byte in request.iter() {
                    if stream.write_all(&[*byte]).is_err() {
                        break;
                    }
                    std::thread::sleep(Duration::from_secs(2));
                    // Stop once the server has answered: a byte sent to a closed socket makes
                    // it reset the connection, and the answer would be lost in transit.
                    stream.set_nonblocking(true).unwrap();
                    let answered = stream.peek(&mut [0u8; 1]).is_ok();
                    stream.set_nonblocking(false).unwrap();
                    if answered || started.elapsed() > Duration::from_secs(20) {
                        break;
                    }
                }
                let answer = read_until_closed(&mut stream);
                (started.elapsed(), answer)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let served = send("GET", &format!("http://{addr}/fine"), &[], None);
    assert_eq!(served.status, 200, "a well-behaved client is served");
    for trickler in tricklers {
        let (lasted, answer) = trickler.join().unwrap();
        assert!(answer.starts_with("HTTP/1.1 408"), "answer: {answer}");
        let body = body_of(&answer);
        assert_eq!(body["code"], "HEAD_TIMEOUT");
        assert_eq!(body["statusCode"], 408);
        assert!(lasted >= head_timeout - Duration::from_millis(100));
    }
    handle.shutdown();
}

/// Connects from `local` (any 127.x.y.z address works on Linux loopback).
fn connect_from(local: &str, to: SocketAddr) -> TcpStream {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None).unwrap();
    let local: SocketAddr = format!("{local}:0").parse().unwrap();
    socket.bind(&local.into()).unwrap();
    socket.connect(&to.into()).unwrap();
    socket.into()
}

#[test]
fn one_address_cannot_take_every_connection() {
    let handle = hello_server(ServerOptions {
        max_connections_per_ip: 4,
        access_log: false,
        ..ServerOptions::new("test")
    });
    let addr = handle.addr();
    let _held: Vec<TcpStream> = (0..4).map(|_| connect_from("127.0.0.1", addr)).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut fifth = connect_from("127.0.0.1", addr);
    let answer = read_until_closed(&mut fifth);
    assert!(answer.starts_with("HTTP/1.1 429"), "{answer}");
    assert_eq!(body_of(&answer)["code"], "TOO_MANY_CONNECTIONS");
    // Another address is served at once.
    let mut other = connect_from("127.0.0.2", addr);
    other
        .write_all(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_until_closed(&mut other).starts_with("HTTP/1.1 200"));
    handle.shutdown();
}

#[test]
fn a_trusted_proxy_is_exempt_from_the_per_address_cap() {
    let handle = hello_server(ServerOptions {
        max_connections_per_ip: 2,
        trusted_proxies: vec!["127.0.0.3".parse().unwrap()],
        access_log: false,
        ..ServerOptions::new("test")
    });
    let addr = handle.addr();
    let _held: Vec<TcpStream> = (0..5).map(|_| connect_from("127.0.0.3", addr)).collect();
    let mut sixth = connect_from("127.0.0.3", addr);
    sixth
        .write_all(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_until_closed(&mut sixth).starts_with("HTTP/1.1 200"));
    handle.shutdown();
}

/// When the server is full, the oldest idle connection makes room for a new one.
#[test]
fn a_full_server_closes_its_oldest_idle_connection_for_a_new_client() {
    let handle = hello_server(ServerOptions {
        max_connections: 4,
        access_log: false,
        ..ServerOptions::new("test")
    });
    let addr = handle.addr();
    let mut idle: Vec<TcpStream> = (0..4).map(|_| TcpStream::connect(addr).unwrap()).collect();
    std::thread::sleep(Duration::from_millis(200));
    let mut newcomer = TcpStream::connect(addr).unwrap();
    newcomer
        .write_all(b"GET /x HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n")
        .unwrap();
    assert!(read_until_closed(&mut newcomer).starts_with("HTTP/1.1 200"));
    assert_eq!(
        read_until_closed(&mut idle[0]),
        "",
        "the oldest idle connection was closed"
    );
    handle.shutdown();
}

fn raw_exchange(addr: SocketAddr, request: &[u8]) -> String {
    let mut stream = TcpStream::connect(addr).unwrap();
    stream.write_all(request).unwrap();
    read_until_closed(&mut stream)
}

#[test]
fn a_header_with_bytes_that_are_not_ascii_gets_a_json_400_naming_it() {
    let app = TestApp::start();
    let addr: SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    for value in [&b"caf\xc3\xa9"[..], &b"caf\xe9"[..]] {
        let mut request = b"GET /api/v1/end-users/u1 HTTP/1.1\r\nHost: t\r\nX-Customer: ".to_vec();
        request.extend_from_slice(value);
        request.extend_from_slice(b"\r\n\r\n");
        let answer = raw_exchange(addr, &request);
        assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
        let body = body_of(&answer);
        assert_eq!(body["code"], "BAD_HEADER");
        assert_eq!(body["statusCode"], 400);
        assert_eq!(body["error"], "Bad Request");
        assert!(
            body["message"].as_str().unwrap().contains("X-Customer"),
            "{body}"
        );
    }
    // The server goes on serving.
    assert_eq!(
        send("GET", &format!("{}/healthz", app.base), &[], None).status,
        200
    );
}

#[test]
fn a_malformed_request_line_gets_a_json_400() {
    let app = TestApp::start();
    let addr: SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let answer = raw_exchange(addr, b"NONSENSE\r\n\r\n");
    assert!(answer.starts_with("HTTP/1.1 400"), "{answer}");
    assert_eq!(body_of(&answer)["code"], "BAD_REQUEST_LINE");
}

#[test]
fn method_not_allowed_names_the_allowed_methods_and_options_lists_them() {
    let app = TestApp::start();
    let auth = format!("Bearer {}", app.key);
    let reply = send(
        "PUT",
        &format!("{}/api/v1/posts", app.base),
        &[("Authorization", &auth)],
        Some("{}"),
    );
    assert_eq!(reply.error_code(405), "METHOD_NOT_ALLOWED");
    assert_eq!(reply.header("Allow"), Some("GET, POST, HEAD, OPTIONS"));

    let reply = send(
        "DELETE",
        &format!("{}/api/v1/end-users/u1", app.base),
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(reply.header("Allow"), Some("GET, HEAD, OPTIONS"));

    let reply = send(
        "OPTIONS",
        &format!("{}/api/v1/posts/scheduled", app.base),
        &[("Authorization", &auth)],
        None,
    );
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("Allow"), Some("POST, OPTIONS"));
    assert_eq!(reply.body, "");

    let reply = send("OPTIONS", &format!("{}/healthz", app.base), &[], None);
    assert_eq!(reply.status, 204);
    assert_eq!(reply.header("Allow"), Some("GET, HEAD, OPTIONS"));
    let reply = send("POST", &format!("{}/healthz", app.base), &[], Some(""));
    assert_eq!(reply.error_code(405), "METHOD_NOT_ALLOWED");
    assert_eq!(reply.header("Allow"), Some("GET, HEAD, OPTIONS"));
}

#[test]
fn head_answers_like_get_without_a_body() {
    let app = TestApp::start();
    app.upsert_user("u1");
    let auth = format!("Bearer {}", app.key);
    let url = format!("{}/api/v1/end-users/u1", app.base);
    let get = send("GET", &url, &[("Authorization", &auth)], None);
    let head = send("HEAD", &url, &[("Authorization", &auth)], None);
    assert_eq!(get.status, 200);
    assert_eq!(head.status, 200);
    assert_eq!(head.body, "");
    assert_eq!(head.header("Content-Type"), get.header("Content-Type"));
    let health = send("HEAD", &format!("{}/healthz", app.base), &[], None);
    assert_eq!(health.status, 200);
    assert_eq!(health.body, "");
}
