//! How a failed command is reported: one line on stderr, `error: <what happened>: <why>`,
//! each cause added only when it says something the line does not already say.

pub fn error_line(err: &anyhow::Error) -> String {
    let mut line = String::new();
    for cause in err.chain() {
        let text = one_line(&cause.to_string());
        if text.is_empty() || line.contains(&text) {
            continue;
        }
        if !line.is_empty() {
            line.push_str(": ");
        }
        line.push_str(&text);
    }
    format!("error: {line}")
}

fn one_line(text: &str) -> String {
    text.lines().map(str::trim).filter(|l| !l.is_empty()).collect::<Vec<_>>().join(" ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn context_and_cause_share_one_line() {
        let io = std::io::Error::new(std::io::ErrorKind::PermissionDenied, "permission denied");
        let err = Err::<(), _>(io).context("reading /data/config.toml").unwrap_err();
        assert_eq!(error_line(&err), "error: reading /data/config.toml: permission denied");
    }

    #[test]
    fn a_cause_already_in_the_message_is_not_repeated() {
        let err =
            anyhow::anyhow!("no socket at /x.sock").context("daemon not running (no socket at /x.sock)");
        assert_eq!(error_line(&err), "error: daemon not running (no socket at /x.sock)");
    }

    #[test]
    fn a_multi_line_message_becomes_one_line() {
        let err = anyhow::anyhow!("first part\n  second part\n");
        assert_eq!(error_line(&err), "error: first part second part");
    }

    #[test]
    fn the_daemon_not_running_error_keeps_its_advice() {
        let err = anyhow::Error::new(clauderon_client::ClientError::DaemonNotRunning {
            endpoint: clauderon_client::Endpoint::Unix("/d/clauderon.sock".into()),
            reason: "no socket at /d/clauderon.sock".into(),
        });
        assert_eq!(
            error_line(&err),
            "error: the clauderon daemon is not running (no socket at /d/clauderon.sock): \
             start it with `clauderon daemon`"
        );
    }
}
