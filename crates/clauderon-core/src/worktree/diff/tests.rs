#![allow(clippy::unwrap_used)]
use super::*;

const RAW: &[u8] = b":100644 100644 1111111 2222222 M\0src/a.rs\0:000000 100644 0000000 3333333 A\0new file.txt\0:100644 100644 4444444 4444444 R100\0old.txt\0moved.txt\0:100644 000000 5555555 0000000 D\0gone.bin\0\
3\t1\tsrc/a.rs\x002\t0\tnew file.txt\x000\t0\t\0old.txt\0moved.txt\0-\t-\tgone.bin\0";

#[test]
fn raw_and_numstat_records_pair_up_renames_and_binaries_included() {
    let files = changed_files(RAW).unwrap();
    let summary: Vec<_> = files
        .iter()
        .map(|f| (f.status, f.path.as_str(), f.old_path.as_deref(), f.additions, f.deletions, f.binary))
        .collect();
    assert_eq!(
        summary,
        vec![
            (FileStatus::Modified, "src/a.rs", None, Some(3), Some(1), false),
            (FileStatus::Added, "new file.txt", None, Some(2), Some(0), false),
            (FileStatus::Renamed, "moved.txt", Some("old.txt"), Some(0), Some(0), false),
            (FileStatus::Deleted, "gone.bin", None, None, None, true),
        ]
    );
    assert_eq!(files[1].old_mode, None);
    assert_eq!(files[1].new_mode.as_deref(), Some("100644"));
    assert_eq!(files[3].new_mode, None);
}

#[test]
fn counts_that_do_not_match_the_files_are_an_error_not_a_wrong_answer() {
    let err = changed_files(b":100644 100644 1 2 M\0a\0").unwrap_err();
    assert!(err.to_string().contains("do not match"), "{err}");
}

#[test]
fn hunks_are_read_with_their_ranges_and_lines() {
    let patch = b"diff --git a/x b/x\nindex 1..2 100644\n--- a/x\n+++ b/x\n@@ -1,2 +1,3 @@ fn main\n a\n-b\n+c\n+d\n@@ -10 +11 @@\n-e\n+f\n\\ No newline at end of file\n";
    let hunks = hunks(patch);
    assert_eq!(hunks.len(), 2);
    assert_eq!(
        (hunks[0].old_start, hunks[0].old_lines, hunks[0].new_start, hunks[0].new_lines),
        (1, 2, 1, 3)
    );
    assert_eq!(hunks[0].header, "@@ -1,2 +1,3 @@ fn main");
    assert_eq!(hunks[0].lines, vec![" a", "-b", "+c", "+d"]);
    assert_eq!(
        (hunks[1].old_start, hunks[1].old_lines, hunks[1].new_start, hunks[1].new_lines),
        (10, 1, 11, 1)
    );
    assert_eq!(hunks[1].lines, vec!["-e", "+f", "\\ No newline at end of file"]);
}

#[test]
fn a_line_that_looks_like_a_header_inside_a_hunk_is_content() {
    // A file's own text starting with "diff --git" reaches the patch prefixed with +, - or space.
    let mut files = changed_files(b":000000 100644 0 1 A\0f\x001\t0\tf\0").unwrap();
    let patch = b"diff --git a/f b/f\nnew file mode 100644\n--- /dev/null\n+++ b/f\n@@ -0,0 +1 @@\n+diff --git a/evil b/evil\n";
    attach_hunks(&mut files, patch, true).unwrap();
    assert_eq!(files[0].hunks[0].lines, vec!["+diff --git a/evil b/evil"]);
}

#[test]
fn a_patch_cut_at_the_cap_leaves_the_cut_file_and_the_rest_out_and_says_why() {
    let raw = b":100644 100644 1 2 M\0a\0:100644 100644 1 2 M\0b\0:100644 100644 1 2 M\0c\x001\t1\ta\x001\t1\tb\x001\t1\tc\0";
    let mut files = changed_files(raw).unwrap();
    let cut = b"diff --git a/a b/a\n@@ -1 +1 @@\n-x\n+y\ndiff --git a/b b/b\n@@ -1 +1 @@\n-x";
    attach_hunks(&mut files, cut, false).unwrap();
    assert_eq!(files[0].hunks.len(), 1);
    assert!(files[0].omitted.is_none());
    for f in &files[1..] {
        assert!(f.hunks.is_empty());
        assert!(f.omitted.as_deref().unwrap().contains("over 4 MiB"), "{:?}", f.omitted);
    }
}

#[test]
fn a_complete_patch_with_a_missing_section_is_an_error() {
    let mut files =
        changed_files(b":100644 100644 1 2 M\0a\0:100644 100644 1 2 M\0b\x001\t1\ta\x001\t1\tb\0").unwrap();
    assert!(attach_hunks(&mut files, b"diff --git a/a b/a\n@@ -1 +1 @@\n-x\n+y\n", true).is_err());
}

#[test]
fn commits_read_summary_last_so_a_separator_in_it_stays_text() {
    let out = b"abc\x1fAda\x1f1700000000\x1ffix: a\x1fb\0\ndef\x1fBo\x1f1600000000\x1finit\0";
    let (commits, truncated) = commits(out);
    assert!(!truncated);
    assert_eq!(commits.len(), 2);
    assert_eq!(commits[0].summary, "fix: a\x1fb");
    assert_eq!(
        (commits[1].id.as_str(), commits[1].author.as_str(), commits[1].time),
        ("def", "Bo", 1_600_000_000)
    );
}
