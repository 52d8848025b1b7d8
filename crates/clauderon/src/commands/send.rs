//! `clauderon send NAME "text"`: a follow-up prompt typed into the session's agent.

use crate::cli::SendArgs;
use crate::output::emit;
use anyhow::Context;
use clauderon_client::Client;
use std::io::{IsTerminal, Read};

pub async fn run(client: &Client, args: SendArgs) -> anyhow::Result<()> {
    let text = match args.text.as_deref() {
        Some(text) if text != "-" => text.to_string(),
        _ => read_stdin(&args.name)?,
    };
    client.send_input(&args.name, &text).await?;
    emit(&format!("sent to {}; `clauderon logs {} --follow` shows the agent at work", args.name, args.name))
}

/// The text from standard input, when it is not a terminal (a pipe, a file).
fn read_stdin(name: &str) -> anyhow::Result<String> {
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        anyhow::bail!(
            "nothing to send: give the text, e.g. `clauderon send {name} \"now run the tests\"`, \
             or pipe it in: `clauderon send {name} - < prompt.txt`"
        );
    }
    let mut text = String::new();
    stdin.read_to_string(&mut text).context("reading the text to send from standard input")?;
    Ok(text)
}
