//! The gateway's own RFC 6455 layer over a real TCP socket with a hand-written client
//! ([`frames`]): the handshake, pings, fragmentation, frames split or coalesced by TCP, close
//! codes and the closing handshake. Every server frame read is checked to be unmasked, and
//! every text frame to be whole, valid JSON.

mod frames;

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::*;
use frames::*;

/// A server frame as a short string: `pong:<id>` for a JSON `pong` event, `control-pong:<payload>`.
fn describe(frame: &Frame) -> String {
    match frame.opcode {
        TEXT => {
            let json: Value = serde_json::from_slice(&frame.payload).unwrap();
            format!("{}:{}", json["type"].as_str().unwrap_or("?"), json["id"].as_str().unwrap_or("-"))
        }
        PONG => format!("control-pong:{}", String::from_utf8_lossy(&frame.payload)),
        _ => format!("{frame:?}"),
    }
}

/// The next `n` significant frames, described.
async fn next_described(wire: &mut Wire, n: usize) -> Vec<String> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(describe(&wire.next_significant().await));
    }
    out
}

#[tokio::test]
async fn the_handshake_answers_101_with_the_accept_key() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    // RFC 6455 §1.3's example, and a second key whose accept value was computed independently.
    for (key, accept) in
        [(RFC_KEY, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="), ("AQIDBAUGBwgJCgsMDQ4PEA==", "C/0nmHhBztSRGR1CwL6Tf4ZjwpY=")]
    {
        let mut wire = Wire::connect(&app).await;
        wire.send(&get(&ana.token, &upgrade(key, "13"))).await;
        let response = wire.response().await;
        assert_eq!(response.status, 101);
        assert_eq!(response.header("sec-websocket-accept"), Some(accept));
        assert!(response.header("upgrade").is_some_and(|v| v.eq_ignore_ascii_case("websocket")));
        assert!(response.header("connection").is_some_and(|v| v.eq_ignore_ascii_case("upgrade")));
        assert_eq!(response.header("sec-websocket-extensions"), None, "no extension is negotiated");
        let ready = wire.next_json().await;
        assert_eq!(ready["type"], "ready");
        assert_eq!(ready["data"]["user"]["id"], json!(ana.id()));
    }
}

#[tokio::test]
async fn the_101_and_ready_reach_the_client_in_one_segment() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let (wire, _) = Wire::open(&app, &ana.token).await;
    // The server holds the 101 back until `ready` is written: one data segment, not two.
    assert_eq!(wire.data_segments_in(), 1);
}

#[tokio::test]
async fn the_first_frame_may_share_a_segment_with_the_upgrade_request() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let mut wire = Wire::connect(&app).await;
    let mut bytes = get(&ana.token, &upgrade(RFC_KEY, "13"));
    bytes.extend(ping_request("early"));
    wire.send(&bytes).await;
    assert_eq!(wire.response().await.status, 101);
    assert_eq!(wire.next_json().await["type"], "ready");
    assert_eq!(next_described(&mut wire, 1).await, ["pong:early"]);
}

#[tokio::test]
async fn other_versions_get_426_and_plain_gets_400() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let mut wire = Wire::connect(&app).await;
    wire.send(&get(&ana.token, &upgrade(RFC_KEY, "8"))).await;
    let response = wire.response().await;
    assert_eq!((response.status, response.error_code().as_str()), (426, "unsupported_websocket_version"));
    assert_eq!(response.header("sec-websocket-version"), Some("13"));
    assert_eq!(response.header("sec-websocket-accept"), None);

    let mut wire = Wire::connect(&app).await;
    wire.send(&get(&ana.token, &[])).await;
    let response = wire.response().await;
    assert_eq!((response.status, response.error_code().as_str()), (400, "not_websocket"));
}

#[tokio::test]
async fn pings_are_answered_with_pongs_carrying_the_same_payload() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let (mut wire, _) = Wire::open(&app, &ana.token).await;
    let longest: Vec<u8> = (0..125u8).map(|i| i.wrapping_mul(37)).collect();
    for payload in [&b"hello"[..], b"", b"\x00\xff\x80 binary", &longest] {
        wire.send(&frame(true, PING, payload)).await;
        let pong = wire.next_significant().await;
        assert_eq!((pong.opcode, pong.fin, pong.payload.as_slice()), (PONG, true, payload));
    }
}

#[tokio::test]
async fn a_fragmented_message_with_a_ping_between_fragments_is_one_request() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let (mut wire, _) = Wire::open(&app, &ana.token).await;
    // The id's "é" (c3 a9) is split between the last two fragments: UTF-8 is checked whole.
    wire.send(&frame(false, TEXT, br#"{"type":"pi"#)).await;
    wire.send(&frame(true, PING, b"between")).await;
    wire.send(&frame(false, CONTINUATION, b"ng\",\"id\":\"x\xc3")).await;
    wire.send(&frame(true, CONTINUATION, b"\xa9\"}")).await;
    // The pong comes first: the first fragment alone was not handled as a (malformed) request.
    assert_eq!(next_described(&mut wire, 1).await, ["control-pong:between"]);
    assert_eq!(wire.next_json().await, json!({"type": "pong", "id": "xé"}));
}

#[tokio::test]
async fn several_frames_in_one_tcp_write_are_all_handled_in_order() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let (mut wire, _) = Wire::open(&app, &ana.token).await;
    let mut bytes = [ping_request("a"), ping_request("b"), ping_request("c")].concat();
    bytes.extend(frame(true, PING, b"p"));
    bytes.extend(frame(false, TEXT, br#"{"type":"ping","#));
    bytes.extend(frame(true, CONTINUATION, br#""id":"d"}"#));
    wire.send(&bytes).await;
    let got = next_described(&mut wire, 5).await;
    assert_eq!(got, ["pong:a", "pong:b", "pong:c", "control-pong:p", "pong:d"]);
}

#[tokio::test]
async fn a_frame_split_over_several_tcp_writes_is_reassembled() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let (mut wire, _) = Wire::open(&app, &ana.token).await;
    let id = "y".repeat(300); // over 125 bytes: a 16-bit length, split here too
    let bytes = ping_request(&id);
    // Inside the first byte pair, the extended length, the masking key, the payload.
    for range in [0..1, 1..3, 3..6, 6..20, 20..bytes.len()] {
        wire.send(&bytes[range]).await;
        tokio::time::sleep(Duration::from_millis(60)).await;
    }
    assert_eq!(next_described(&mut wire, 1).await, [format!("pong:{id}")]);
    // The reader is back at a frame boundary.
    wire.send(&ping_request("after")).await;
    assert_eq!(next_described(&mut wire, 1).await, ["pong:after"]);
}

#[tokio::test]
async fn protocol_violations_close_with_1002() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let ping = br#"{"type":"ping","id":"v"}"#;
    let cases: [(&str, Vec<u8>); 7] = [
        ("unmasked text", unmasked(TEXT, ping)),
        ("reserved bit", [vec![0xC1], frame(true, TEXT, ping)[1..].to_vec()].concat()),
        ("reserved opcode 0x3", frame(true, 0x3, ping)),
        ("fragmented ping", frame(false, PING, b"x")),
        ("ping over 125 bytes", frame(true, PING, &[0; 126])),
        ("continuation without a message", frame(true, CONTINUATION, ping)),
        ("text inside a fragmented text", [frame(false, TEXT, b"{"), frame(true, TEXT, ping)].concat()),
    ];
    for (what, bytes) in cases {
        let (mut wire, _) = Wire::open(&app, &ana.token).await;
        eprintln!("case: {what}"); // names the case of a failure
        wire.send(&bytes).await;
        wire.expect_close(1002, "protocol_error").await;
    }
}

#[tokio::test]
async fn invalid_utf8_text_closes_with_1007() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let (mut wire, _) = Wire::open(&app, &ana.token).await;
    wire.send(&frame(true, TEXT, b"{\"type\":\"ping\",\"id\":\"\xff\xfe\"}")).await;
    wire.expect_close(1007, "invalid_utf8").await;
}

#[tokio::test]
async fn frames_and_messages_over_the_limit_close_with_1009() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let (mut wire, ready) = Wire::open(&app, &ana.token).await;
    let max = ready["limits"]["max_frame_bytes"].as_u64().expect("limits.max_frame_bytes") as usize;

    // Exactly at the limit is handled.
    let padding = "z".repeat(max - r#"{"type":"ping","id":""}"#.len());
    let at_limit = format!(r#"{{"type":"ping","id":"{padding}"}}"#);
    assert_eq!(at_limit.len(), max);
    wire.send(&frame(true, TEXT, at_limit.as_bytes())).await;
    assert_eq!(next_described(&mut wire, 1).await, [format!("pong:{padding}")]);
    // One byte more is refused from the header alone.
    wire.send(&header(true, TEXT, max + 1)).await;
    wire.expect_close(1009, "frame_too_large").await;

    // Fragments each under the limit whose message is over it.
    let (mut wire, _) = Wire::open(&app, &ana.token).await;
    let half = vec![b' '; max / 2 + 1];
    wire.send(&[frame(false, TEXT, &half), frame(true, CONTINUATION, &half)].concat()).await;
    wire.expect_close(1009, "frame_too_large").await;
}

#[tokio::test]
async fn a_client_close_is_answered_and_the_connection_ends() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let (mut wire, _) = Wire::open(&app, &ana.token).await;
    wire.send(&frame(true, CLOSE, &[&1000u16.to_be_bytes()[..], b"bye"].concat())).await;
    wire.expect_close(1000, "").await;
}

#[tokio::test]
async fn server_frames_are_unmasked_and_minimal() {
    let app = TestApp::spawn().await;
    let ana = app.register("ana").await;
    let mut wire = Wire::connect(&app).await;
    wire.send(&get(&ana.token, &upgrade(RFC_KEY, "13"))).await;
    assert_eq!(wire.response().await.status, 101);
    // `ready`: FIN + text, no mask bit (checked on every frame read), the shortest length.
    let ready = wire.next_frame().await;
    assert_eq!((ready.fin, ready.opcode), (true, TEXT));
    let minimal = match ready.payload.len() {
        0..=125 => 2,
        126..=0xFFFF => 4,
        _ => 10,
    };
    assert_eq!(ready.header_len, minimal, "ready is {} bytes", ready.payload.len());
    let json: Value = serde_json::from_slice(&ready.payload).expect("ready is JSON");
    assert_eq!(json["type"], "ready");
    // A short answer: a 2-byte header, exactly the JSON event.
    wire.send(&ping_request("m")).await;
    let pong = wire.next_significant().await;
    assert_eq!((pong.fin, pong.opcode, pong.header_len), (true, TEXT, 2));
    assert_eq!(serde_json::from_slice::<Value>(&pong.payload).unwrap(), json!({"type": "pong", "id": "m"}));
}
