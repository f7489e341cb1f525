//! A scripted HTTP/1.1 server on 127.0.0.1 for the fetch and refresh
//! tests: each path answers from a queue of replies (the last one
//! repeats), and every request is recorded with its headers and time.

use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the server does with one request.
#[derive(Clone, Debug)]
pub enum Reply {
    /// A status, extra headers and a body (Content-Length set).
    Answer {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    },
    /// 200 with `ETag`, or 304 when the request's `If-None-Match` matches.
    Conditional { etag: String, body: Vec<u8> },
    /// Closes the connection without answering.
    Close,
    /// Claims `claimed` bytes, sends `body`, closes.
    Truncated { body: Vec<u8>, claimed: usize },
    /// Waits, then closes without answering.
    Stall(Duration),
    /// A body without Content-Length (chunked), for size limits.
    Chunked(Vec<u8>),
    /// 200 with Content-Length, then the body one byte at a time with a
    /// pause before each: a server slower than any timeout, but never
    /// silent long enough for a read timeout.
    Trickle { body: Vec<u8>, every: Duration },
}

impl Reply {
    pub fn ok(body: &[u8]) -> Reply {
        Reply::Answer {
            status: 200,
            headers: Vec::new(),
            body: body.to_vec(),
        }
    }

    pub fn status(status: u16) -> Reply {
        Reply::Answer {
            status,
            headers: Vec::new(),
            body: format!("status {status}").into_bytes(),
        }
    }

    pub fn with_header(status: u16, name: &str, value: &str) -> Reply {
        Reply::Answer {
            status,
            headers: vec![(name.to_string(), value.to_string())],
            body: Vec::new(),
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    pub path: String,
    pub headers: BTreeMap<String, String>,
    pub at: Instant,
    /// Body bytes the server sent back.
    pub body_sent: usize,
}

#[derive(Default)]
struct State {
    routes: BTreeMap<String, VecDeque<Reply>>,
    seen: Vec<Seen>,
}

pub struct Server {
    pub base: String,
    state: Arc<Mutex<State>>,
}

impl Server {
    pub fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1");
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(Mutex::new(State::default()));
        let shared = state.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let state = shared.clone();
                std::thread::spawn(move || serve(stream, &state));
            }
        });
        Server { base, state }
    }

    /// Replies for `path`, in order; the last one repeats.
    pub fn route(&self, path: &str, replies: Vec<Reply>) {
        self.state
            .lock()
            .unwrap()
            .routes
            .insert(path.to_string(), replies.into());
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The requests for `path` (any query) so far.
    pub fn seen_any_query(&self, path: &str) -> Vec<Seen> {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path.split('?').next() == Some(path))
            .cloned()
            .collect()
    }

    /// The requests for `path` so far.
    pub fn seen(&self, path: &str) -> Vec<Seen> {
        self.state
            .lock()
            .unwrap()
            .seen
            .iter()
            .filter(|s| s.path == path)
            .cloned()
            .collect()
    }
}

fn serve(mut stream: TcpStream, state: &Mutex<State>) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("/").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let reply = {
        let mut s = state.lock().unwrap();
        // A route for the exact path and query, else for the path alone
        // (a query the test cannot know, like a client request id).
        let bare = path.split('?').next().unwrap_or(&path).to_string();
        let key = if s.routes.contains_key(&path) {
            path.clone()
        } else {
            bare
        };
        let queue = s.routes.entry(key).or_default();
        let reply = if queue.len() > 1 {
            queue.pop_front()
        } else {
            queue.front().cloned()
        };
        reply.unwrap_or_else(|| Reply::status(404))
    };
    // Recorded before the answer goes out: a client that has its answer
    // must find its request in `seen`.
    state.lock().unwrap().seen.push(Seen {
        path,
        headers: headers.clone(),
        at: Instant::now(),
        body_sent: body_len(&reply, &headers),
    });
    answer(&mut stream, &reply, &headers);
}

/// The body bytes `answer` sends for this reply.
fn body_len(reply: &Reply, request: &BTreeMap<String, String>) -> usize {
    match reply {
        Reply::Answer { body, .. }
        | Reply::Truncated { body, .. }
        | Reply::Chunked(body)
        | Reply::Trickle { body, .. } => body.len(),
        Reply::Conditional { etag, body } => {
            if request.get("if-none-match") == Some(etag) {
                0
            } else {
                body.len()
            }
        }
        Reply::Close | Reply::Stall(_) => 0,
    }
}

/// Writes the reply.
fn answer(stream: &mut TcpStream, reply: &Reply, request: &BTreeMap<String, String>) {
    let head = |status: u16, extra: &[(String, String)], len: Option<usize>| {
        let mut h = format!("HTTP/1.1 {status} X\r\nConnection: close\r\n");
        for (k, v) in extra {
            h.push_str(&format!("{k}: {v}\r\n"));
        }
        if let Some(n) = len {
            h.push_str(&format!("Content-Length: {n}\r\n"));
        }
        h.push_str("\r\n");
        h
    };
    match reply {
        Reply::Answer {
            status,
            headers,
            body,
        } => {
            let _ = stream.write_all(head(*status, headers, Some(body.len())).as_bytes());
            let _ = stream.write_all(body);
        }
        Reply::Conditional { etag, body } => {
            let tag = vec![("ETag".to_string(), etag.clone())];
            if request.get("if-none-match") == Some(etag) {
                let _ = stream.write_all(head(304, &tag, None).as_bytes());
            } else {
                let _ = stream.write_all(head(200, &tag, Some(body.len())).as_bytes());
                let _ = stream.write_all(body);
            }
        }
        Reply::Close => {}
        Reply::Truncated { body, claimed } => {
            let _ = stream.write_all(head(200, &[], Some(*claimed)).as_bytes());
            let _ = stream.write_all(body);
        }
        Reply::Stall(d) => std::thread::sleep(*d),
        Reply::Trickle { body, every } => {
            let _ = stream.write_all(head(200, &[], Some(body.len())).as_bytes());
            for b in body {
                std::thread::sleep(*every);
                if stream.write_all(&[*b]).is_err() {
                    return;
                }
            }
        }
        Reply::Chunked(body) => {
            let te = vec![("Transfer-Encoding".to_string(), "chunked".to_string())];
            let _ = stream.write_all(head(200, &te, None).as_bytes());
            for chunk in body.chunks(4096) {
                let _ = stream.write_all(format!("{:x}\r\n", chunk.len()).as_bytes());
                let _ = stream.write_all(chunk);
                let _ = stream.write_all(b"\r\n");
            }
            let _ = stream.write_all(b"0\r\n\r\n");
        }
    }
}
