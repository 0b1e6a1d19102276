//! Closed genus-0 meshes from a Debian package, the raw material of the conformal shape
//! classification experiment.
//!
//! SHREC'11 cannot be downloaded here, so the shapes come from Debian's `libcgal-demo` package
//! (version pinned below), whose `usr/share/doc/libcgal-dev/data.tar.gz` holds CGAL's test
//! meshes under `data/meshes/`. [`fetch`] downloads the package with `apt-get download`,
//! unpacks it with `dpkg-deb`, reads every OFF mesh and keeps those that are closed, oriented,
//! connected genus-0 manifolds with at least [`MIN_VERTICES`] vertices, minus the known
//! re-meshed copies of another kept mesh. It writes the kept meshes and an `index.json` that
//! lists every mesh with the reason it was kept or left out.

use std::io::Read;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::data::scratch::{run_command, ScratchDir};
use crate::error::{Error, Result};
use crate::geometry::mesh::{parse_off, read_off, Topology, TriMesh};
use crate::train::write_atomic;

/// Where `niso data meshes` writes by default.
pub const DEFAULT_DIR: &str = "data/meshes";

/// The Debian package and version that carry the meshes.
const PACKAGE: &str = "libcgal-demo=5.5.1-2";

/// The tarball inside the package.
const DATA_TARBALL: &str = "usr/share/doc/libcgal-dev/data.tar.gz";

/// The folder of the meshes inside that tarball.
const MESH_FOLDER: &str = "data/meshes";

/// Meshes with fewer vertices are too coarse for a 128-eigenpair spectrum.
pub const MIN_VERTICES: usize = 1000;

/// Meshes that are another kept mesh re-meshed, re-ordered or refined: as separate classes they
/// would be indistinguishable.
const DUPLICATES: [(&str, &str); 3] = [
    ("bear_bis", "bear"),
    ("blobby-shuffled", "blobby"),
    ("fandisk_large", "fandisk"),
];

/// The index file written next to the meshes.
const INDEX_FILE: &str = "index.json";

/// What [`fetch`] kept and left out.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct MeshIndex {
    /// The Debian package the meshes came from.
    pub package: String,
    /// Kept meshes, one class each, sorted by name.
    pub kept: Vec<KeptMesh>,
    /// Every other mesh of the package with the reason.
    pub rejected: Vec<RejectedMesh>,
}

/// A kept mesh.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct KeptMesh {
    /// The class name (the file stem).
    pub name: String,
    /// The OFF file, relative to the index.
    pub file: String,
    /// Vertex count.
    pub vertices: usize,
    /// Triangle count.
    pub faces: usize,
}

/// A mesh left out, and why.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct RejectedMesh {
    /// The file stem.
    pub name: String,
    /// Why it was left out.
    pub reason: String,
}

/// Downloads the pinned `libcgal-demo` package and writes the usable meshes and `index.json`
/// into `dir`; does nothing if `dir` already holds a complete index.
///
/// # Errors
/// [`Error::Command`] if `apt-get` or `dpkg-deb` fails (with its stderr), [`Error::Format`] if
/// the package lacks the mesh tarball, [`Error::Io`] for file system failures.
pub fn fetch(dir: &Path) -> Result<MeshIndex> {
    if let Ok(index) = load_index(dir) {
        return Ok(index);
    }
    std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;

    let scratch = ScratchDir::new("niso-meshes-fetch")?;
    let package = apt_download(scratch.path())?;
    let root = scratch.path().join("root");
    let (package_str, root_str) = (package.to_string_lossy(), root.to_string_lossy());
    run_command("dpkg-deb", &["-x", &package_str, &root_str], scratch.path())?;

    let tarball = root.join(DATA_TARBALL);
    let bytes = std::fs::read(&tarball).map_err(|e| Error::io(&tarball, e))?;
    let files = off_files(&tarball, &bytes)?;
    if files.is_empty() {
        return Err(Error::format(
            &tarball,
            format!("no OFF files under {MESH_FOLDER}/"),
        ));
    }

    let mut index = MeshIndex {
        package: PACKAGE.replace('=', " "),
        kept: Vec::new(),
        rejected: Vec::new(),
    };
    let present: Vec<&str> = files.iter().map(|(name, _)| name.as_str()).collect();
    for (name, text) in &files {
        let source = PathBuf::from(format!("{DATA_TARBALL}/{MESH_FOLDER}/{name}.off"));
        match classify(name, &source, text, &present) {
            Ok(mesh) => {
                let file = format!("{name}.off");
                write_atomic(&dir.join(&file), text.as_bytes())?;
                index.kept.push(KeptMesh {
                    name: name.clone(),
                    file,
                    vertices: mesh.vertices.len(),
                    faces: mesh.faces.len(),
                });
            }
            Err(reason) => index.rejected.push(RejectedMesh {
                name: name.clone(),
                reason,
            }),
        }
    }

    let json = serde_json::to_string_pretty(&index).expect("the index serialises");
    write_atomic(&dir.join(INDEX_FILE), json.as_bytes())?;
    Ok(index)
}

/// Loads every kept mesh listed in `dir/index.json`, in index order.
///
/// # Errors
/// [`Error::Missing`] naming `niso data meshes` if the index is absent; [`Error::Format`] or
/// [`Error::Io`] if a listed mesh is unreadable or no longer a closed genus-0 surface.
pub fn load(dir: &Path) -> Result<Vec<(String, TriMesh)>> {
    let index = load_index(dir)?;
    index
        .kept
        .iter()
        .map(|kept| {
            let path = dir.join(&kept.file);
            let mesh = read_off(&path)?;
            if let Some(defect) = Topology::of(&mesh).sphere_defect() {
                return Err(Error::format(
                    &path,
                    format!("expected a closed genus-0 surface, found {defect}"),
                ));
            }
            Ok((kept.name.clone(), mesh))
        })
        .collect()
}

/// Reads `dir/index.json` and checks that every listed file is present.
fn load_index(dir: &Path) -> Result<MeshIndex> {
    let path = dir.join(INDEX_FILE);
    if !path.is_file() {
        return Err(Error::Missing {
            what: "the mesh index".into(),
            path,
            command: format!("niso data meshes --dir {}", dir.display()),
        });
    }
    let text = std::fs::read_to_string(&path).map_err(|e| Error::io(&path, e))?;
    let index: MeshIndex = serde_json::from_str(&text)
        .map_err(|e| Error::format(&path, format!("not a mesh index: {e}")))?;
    for kept in &index.kept {
        let file = dir.join(&kept.file);
        if !file.is_file() {
            return Err(Error::Missing {
                what: format!("mesh `{}`", kept.name),
                path: file,
                command: format!("niso data meshes --dir {}", dir.display()),
            });
        }
    }
    Ok(index)
}

/// Keeps `text` if it is a closed genus-0 surface with enough vertices and not a known copy of
/// another mesh in `present`; otherwise returns the reason.
fn classify(
    name: &str,
    source: &Path,
    text: &str,
    present: &[&str],
) -> std::result::Result<TriMesh, String> {
    if let Some((_, original)) = DUPLICATES
        .iter()
        .find(|(copy, original)| *copy == name && present.contains(original))
    {
        return Err(format!("a re-meshed copy of `{original}`"));
    }
    let mesh = parse_off(source, text).map_err(|e| e.to_string())?;
    if let Some(defect) = Topology::of(&mesh).sphere_defect() {
        return Err(format!("not a closed genus-0 surface: {defect}"));
    }
    if mesh.vertices.len() < MIN_VERTICES {
        return Err(format!(
            "{} vertices, fewer than {MIN_VERTICES}",
            mesh.vertices.len()
        ));
    }
    Ok(mesh)
}

/// The OFF files directly under [`MESH_FOLDER`] in the gzipped tarball `bytes`, as (stem, text)
/// sorted by stem.
fn off_files(tarball: &Path, bytes: &[u8]) -> Result<Vec<(String, String)>> {
    let corrupt = |e: std::io::Error| Error::format(tarball, format!("unreadable tarball: {e}"));
    let mut files = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    for entry in archive.entries().map_err(corrupt)? {
        let mut entry = entry.map_err(corrupt)?;
        let path = entry.path().map_err(corrupt)?.into_owned();
        let in_folder = path.parent() == Some(Path::new(MESH_FOLDER));
        let is_off = path.extension().is_some_and(|ext| ext == "off");
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if !in_folder || !is_off {
            continue;
        }
        let stem = stem.to_string();
        let mut raw = Vec::new();
        entry.read_to_end(&mut raw).map_err(corrupt)?;
        files.push((stem, String::from_utf8_lossy(&raw).into_owned()));
    }
    files.sort();
    Ok(files)
}

/// Downloads the pinned package into `dir` (running `apt-get update` first if the package list
/// does not know it) and returns the `.deb` path.
fn apt_download(dir: &Path) -> Result<PathBuf> {
    if run_command("apt-get", &["download", PACKAGE], dir).is_err() {
        run_command("apt-get", &["update"], dir)?;
        run_command("apt-get", &["download", PACKAGE], dir)?;
    }
    let deb = std::fs::read_dir(dir)
        .map_err(|e| Error::io(dir, e))?
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .find(|path| path.extension().is_some_and(|ext| ext == "deb"));
    deb.ok_or_else(|| Error::Command {
        command: format!("apt-get download {PACKAGE}"),
        message: format!("no .deb file appeared in {}", dir.display()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::geometry::mesh::{icosphere, to_off};

    #[test]
    fn classify_keeps_fine_spheres_and_says_why_others_are_left_out() {
        let source = Path::new("data.tar.gz/data/meshes/x.off");
        let fine = to_off(&icosphere(4));
        assert!(classify("ball", source, &fine, &["ball"]).is_ok());

        let coarse = to_off(&icosphere(2));
        let reason = classify("ball", source, &coarse, &["ball"]).unwrap_err();
        assert!(reason.contains("162 vertices"), "{reason}");

        let mut open = icosphere(4);
        open.faces.pop();
        let reason = classify("ball", source, &to_off(&open), &["ball"]).unwrap_err();
        assert!(reason.contains("3 boundary edges"), "{reason}");

        let reason = classify("bear_bis", source, &fine, &["bear", "bear_bis"]).unwrap_err();
        assert!(reason.contains("copy of `bear`"), "{reason}");
        assert!(classify("bear_bis", source, &fine, &["bear_bis"]).is_ok());

        let reason = classify("ball", source, "OFF\n1 0 0\n0 0\n", &["ball"]).unwrap_err();
        assert!(
            reason.contains("x.off") && reason.contains("line 3"),
            "{reason}"
        );
    }

    #[test]
    fn load_names_the_command_when_the_index_is_missing_and_reads_kept_meshes() {
        let dir = ScratchDir::new("niso-meshes-test").unwrap();
        let message = load(dir.path()).unwrap_err().to_string();
        assert!(message.contains("niso data meshes"), "{message}");

        let mesh = icosphere(4);
        write_atomic(&dir.path().join("ball.off"), to_off(&mesh).as_bytes()).unwrap();
        let index = MeshIndex {
            package: "test".into(),
            kept: vec![KeptMesh {
                name: "ball".into(),
                file: "ball.off".into(),
                vertices: mesh.vertices.len(),
                faces: mesh.faces.len(),
            }],
            rejected: Vec::new(),
        };
        let json = serde_json::to_string(&index).unwrap();
        write_atomic(&dir.path().join(INDEX_FILE), json.as_bytes()).unwrap();
        let loaded = load(dir.path()).unwrap();
        assert_eq!(loaded.len(), 1);
        assert_eq!(loaded[0].1.faces, mesh.faces);

        std::fs::remove_file(dir.path().join("ball.off")).unwrap();
        let message = load(dir.path()).unwrap_err().to_string();
        assert!(message.contains("ball") && message.contains("niso data meshes"));
    }
}
