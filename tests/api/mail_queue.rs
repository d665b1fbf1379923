//! The durable mail queue against a real SMTP exchange: a relay that is down loses no
//! mail and slows no request; the mail goes out once the relay is back.

use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;
use tokio::sync::mpsc;

use crate::fixture::{Fixture, OPERATOR_TOKEN, test_config};

/// A minimal SMTP sink: answers every command and hands each message's DATA over.
async fn smtp_sink(listener: TcpListener, out: mpsc::UnboundedSender<String>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let out = out.clone();
        tokio::spawn(async move {
            let (read, mut write) = stream.into_split();
            let mut lines = BufReader::new(read).lines();
            write.write_all(b"220 sink ESMTP\r\n").await.unwrap();
            while let Ok(Some(line)) = lines.next_line().await {
                let verb = line.split_whitespace().next().unwrap_or("").to_uppercase();
                match verb.as_str() {
                    "EHLO" | "HELO" => write.write_all(b"250 sink\r\n").await.unwrap(),
                    "DATA" => {
                        write.write_all(b"354 go ahead\r\n").await.unwrap();
                        let mut data = String::new();
                        while let Ok(Some(l)) = lines.next_line().await {
                            if l == "." {
                                break;
                            }
                            data.push_str(&l);
                            data.push('\n');
                        }
                        out.send(data).unwrap();
                        write.write_all(b"250 queued\r\n").await.unwrap();
                    }
                    "QUIT" => {
                        write.write_all(b"221 bye\r\n").await.unwrap();
                        return;
                    }
                    _ => write.write_all(b"250 ok\r\n").await.unwrap(),
                }
            }
        });
    }
}

async fn queue_depth(f: &Fixture) -> u64 {
    let text = f
        .http
        .get(format!("{}/metrics", f.base))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    text.lines()
        .find_map(|l| l.strip_prefix("apex_mail_queue_depth "))
        .and_then(|v| v.trim().parse().ok())
        .unwrap()
}

#[tokio::test]
async fn a_relay_that_is_down_loses_no_mail_and_slows_no_request() {
    // A relay that takes connections and never says a word: a delivery to it hangs
    // until the SMTP client's 10 s timeout.
    let silent = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = silent.local_addr().unwrap().port();
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    config.mail.transport = apex_idp::config::MailTransport::Smtp;
    config.mail.smtp_url = format!("smtp://127.0.0.1:{port}");
    let f = Fixture::start_with(dir, config).await;

    let (s, v) = f
        .op(
            "POST",
            "/operator/structures",
            Some(json!({"siret": "73282932000074", "category": "CSP", "name": "Relais"})),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let sid = v["id"].as_str().unwrap().to_owned();
    let started = Instant::now();
    let (s, _) = f
        .call(
            Some(OPERATOR_TOKEN),
            "POST",
            &format!("/operator/structures/{sid}/administrateurs"),
            Some(json!({"email": "alice@example.fr", "given_name": "Alice", "family_name": "Martin"})),
        )
        .await;
    assert_eq!(s, 201);
    // The request answered while its mail is queued and no delivery has ended: one
    // that waited for the relay would have hung until the relay's timeout.
    let queued = f.directory().queued_mails().unwrap();
    assert_eq!(queued.len(), 1, "the mail is queued");
    assert_eq!(queued[0].attempts, 0, "no delivery ended before the answer");
    assert!(
        started.elapsed() < Duration::from_secs(8),
        "the request does not wait for the relay ({:?})",
        started.elapsed()
    );

    // The relay goes down (the hung connection is reset, new ones are refused): the
    // delivery fails and the mail stays queued.
    drop(silent);
    for _ in 0..1000 {
        if f.directory()
            .queued_mails()
            .unwrap()
            .iter()
            .any(|q| q.attempts >= 1)
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(queue_depth(&f).await, 1, "the mail waits in the queue");

    // The relay comes back; once the retry is due the mail goes out, once.
    let listener = TcpListener::bind(("127.0.0.1", port)).await.unwrap();
    let (tx, mut rx) = mpsc::unbounded_channel();
    tokio::spawn(smtp_sink(listener, tx));
    f.clock.advance(3600);
    f.directory().mail_wakeup().notify_one();
    let data = tokio::time::timeout(Duration::from_secs(10), rx.recv())
        .await
        .unwrap()
        .unwrap();
    assert!(data.contains("alice@example.fr"), "{data}");
    assert!(
        data.contains("/invitations/"),
        "the invitation link is in the mail"
    );
    for _ in 0..100 {
        if queue_depth(&f).await == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(queue_depth(&f).await, 0);
    assert!(rx.try_recv().is_err(), "delivered exactly once");
}
