//! Files under the config's roots: the io library and lfs as skynet
//! projects use them (sproto schemas read with io.open, data tables walked
//! with lfs.dir, skynet.dns reading /etc/hosts with file_dns).

use std::path::PathBuf;

fn data_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("skyhold-compat-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(d.join("proto")).unwrap();
    std::fs::create_dir_all(d.join("data/items")).unwrap();
    std::fs::create_dir_all(d.join("var")).unwrap();
    std::fs::write(
        d.join("proto/game.sproto"),
        ".package {\n\ttype 0 : integer\n\tsession 1 : integer\n}\n",
    )
    .unwrap();
    std::fs::write(d.join("data/items/sword.lua"), "return { atk = 10 }\n").unwrap();
    std::fs::write(d.join("data/items/shield.lua"), "return { def = 7 }\n").unwrap();
    std::fs::write(d.join("data/numbers.txt"), "1 2.5 0x10\nend\n").unwrap();
    d
}

fn keys(d: &std::path::Path, dns: bool) -> Vec<(String, String)> {
    let mut k = vec![
        (
            "file_read_roots".to_string(),
            format!("{0}/proto;{0}/data", d.display()),
        ),
        ("file_write_root".into(), format!("{}/var", d.display())),
        ("files_dir".into(), d.display().to_string()),
    ];
    if dns {
        k.push(("file_dns".into(), "true".into()));
    }
    k
}

fn run(case: &str, dns: bool) {
    let d = data_dir(case);
    let k = keys(&d, dns);
    let extra: Vec<(&str, &str)> = k.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
    super::check_with(case, &extra);
    std::fs::remove_dir_all(&d).ok();
}

#[test]
fn files_io() {
    run("files_io", true);
}

#[test]
fn files_lfs() {
    run("files_lfs", false);
}
