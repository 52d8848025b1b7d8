//! A session's chat history, read from the transcript its agent writes in the session's HOME.

use super::SessionManager;
use crate::error::CoreError;
use clauderon_agents::AgentsError;
use clauderon_agents::profile;
use clauderon_agents::transcript::Transcript;
use clauderon_types::messages::MessagePage;

impl SessionManager {
    /// The messages after the cursor `after` (a message index), at most `limit` of them.
    ///
    /// The transcript is the newest one the session's agent wrote under the session's HOME,
    /// whatever the working directory was (the worktree on the host, `/workspace` in a container). A session whose agent has
    /// written nothing yet has an empty history; lines that do not parse are in the page's notes.
    pub async fn messages(
        &self,
        name: &str,
        after: Option<usize>,
        limit: Option<usize>,
    ) -> Result<MessagePage, CoreError> {
        let session = self.get(name).await?;
        let name = session.name.as_str().to_owned();
        let agent = session.agent;
        let home = self.inner.layout.session_home(&name);
        let read = tokio::task::spawn_blocking(move || {
            // Both through `clauderon-fs`: a link the session planted is refused, not followed.
            let Some(path) = profile::newest_transcript(agent, &home)? else {
                return Ok((None, Transcript::default()));
            };
            let read = profile::read_transcript(agent, &home, &path)?;
            Ok::<_, AgentsError>((Some(path.display().to_string()), read))
        })
        .await
        .map_err(|e| CoreError::Internal(format!("transcript task: {e}")))?;
        let (path, Transcript { messages, notes }) = match read {
            Ok(read) => read,
            Err(AgentsError::Refused(r)) => {
                let then = "read the messages again";
                return Err(self.refused_once(&session, "reading messages", &r, then).await);
            }
            Err(e) => return Err(CoreError::Unavailable(e.to_string())),
        };
        Ok(MessagePage::slice(&name, path, messages, notes, after, limit))
    }
}
