use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Images, a content-addressed layer store and overlay mounts
///
/// An image is an ordered stack of read-only layers, each extracted once under
/// $CTRKIT_ROOT/layers and shared by every image that has it; a container is that stack
/// plus one writable layer, mounted with overlayfs.
#[derive(Debug, Parser)]
#[command(max_term_width = 100)]
pub struct Cli {
    #[command(flatten)]
    pub dirs: common::state::Dirs,
    /// Print debug messages on stderr
    #[arg(short, long, global = true)]
    pub verbose: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Pull an image from a registry into the store; print the image ID
    Pull(PullArgs),
    /// Push an image to a registry (as DEST, or under its own name); print the manifest digest
    Push(PushArgs),
    /// Give an image another name (a registry reference, to push it there)
    Tag(TagArgs),
    /// Check credentials for a registry and keep them in the auth file
    Login(LoginArgs),
    /// Forget the credentials for a registry
    Logout(LogoutArgs),
    /// Import a docker-save archive, an OCI layout (directory or tar) or a rootfs tar; print the image ID
    Import(ImportArgs),
    /// List images
    Images(ListArgs),
    /// List layers in the store
    Layers(ListArgs),
    /// Show disk use: per image, shared and unique bytes
    Df(ListArgs),
    /// Show an image's config, layers and history
    Inspect(InspectArgs),
    /// Mount a container's root filesystem (the image's layers plus its writable layer) at TARGET; print TARGET
    Mount(MountArgs),
    /// Unmount a container's root filesystem, given its mount point or container ID
    Umount(UmountArgs),
    /// Unmount (if needed) and delete a container's writable layer
    RmContainer(ContainerArg),
    /// List containers (writable layers)
    Containers(ListArgs),
    /// List what a container changed: A (added), C (changed), D (deleted) paths
    Diff(DiffArgs),
    /// Turn a container's changes into a new layer and a new image; print the new image ID
    Commit(CommitArgs),
    /// Write the flattened filesystem of a container or an image as one tar
    Export(ExportArgs),
    /// Copy files into or out of a container's root (docker cp), never through its symlinks
    ///
    /// SRC is resolved in --from-root, DEST in --to-root, when given (a container's
    /// /proc/PID/root, or its merged tree): symlinks, absolute ones too, resolve inside that
    /// root, and below the path every entry is reached without following symlinks, which
    /// are copied as symlinks. An existing folder DEST takes SRC by its own name; SRC/.
    /// copies what the folder holds.
    Cp(CpArgs),
    /// Write an image as an OCI or docker archive
    Save(SaveArgs),
    /// Remove images (or untag a name); refuses while a container uses one
    Rm(RmArgs),
    /// Remove layers and leftovers no image or container references
    Gc,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Archive file, OCI layout directory, or - for standard input
    #[arg(value_name = "FILE|DIR|-")]
    pub source: PathBuf,
    /// Name the image NAME[:TAG] (default: the archive's own name, if any)
    #[arg(long, value_name = "NAME[:TAG]")]
    pub name: Option<String>,
    /// Refuse the import once it would write more than SIZE (decompressed archives and
    /// layers, extracted files, sparse files at their full size), e.g. 2G [default: the
    /// free space of the store's filesystem minus 5% of its size]
    #[arg(long, value_name = "SIZE", value_parser = common::parse::parse_bytes)]
    pub max_size: Option<u64>,
    /// From an image index, take the image for OS/ARCH[/VARIANT] [default: this machine's]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = crate::platform::parse_arg)]
    pub platform: Option<crate::platform::Platform>,
}

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Verify the registry's TLS certificate (=false: skip the check and allow plain HTTP)
    /// [default: verify, but a registry on a loopback address may be plain HTTP]
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
    /// Read credentials from FILE (auth.json or docker config.json format)
    /// [default: $REGISTRY_AUTH_FILE, $XDG_RUNTIME_DIR/containers/auth.json, ~/.docker/config.json]
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Log in as USER with PASSWORD for this command only
    #[arg(long, value_name = "USER:PASSWORD")]
    pub creds: Option<String>,
}

#[derive(Debug, Args)]
pub struct PullArgs {
    /// [REGISTRY/]REPOSITORY[:TAG][@DIGEST]; `busybox` is docker.io/library/busybox:latest
    #[arg(value_name = "REF")]
    pub reference: String,
    /// From an image index, take the image for OS/ARCH[/VARIANT] [default: this machine's]
    #[arg(long, value_name = "OS/ARCH[/VARIANT]", value_parser = crate::platform::parse_arg)]
    pub platform: Option<crate::platform::Platform>,
    /// No progress bars
    #[arg(short, long)]
    pub quiet: bool,
    /// Layers fetched at once
    #[arg(long, value_name = "N", default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=32))]
    pub jobs: u32,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Image ID (or unique prefix) or NAME[:TAG]
    pub image: String,
    /// Where to: [REGISTRY/]REPOSITORY[:TAG] [default: IMAGE]
    #[arg(value_name = "DEST")]
    pub dest: Option<String>,
    #[command(flatten)]
    pub registry: RegistryArgs,
}

#[derive(Debug, Args)]
pub struct TagArgs {
    /// Image ID (or unique prefix) or NAME[:TAG]
    #[arg(value_name = "SRC")]
    pub source: String,
    /// The new name, [REGISTRY/]REPOSITORY[:TAG]
    #[arg(value_name = "DST")]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct LoginArgs {
    /// HOST[:PORT] (docker.io for Docker Hub)
    pub registry: String,
    /// User name [default: asked on the terminal]
    #[arg(short, long, value_name = "USER")]
    pub username: Option<String>,
    /// Password (visible to other users in the process list: prefer --password-stdin)
    #[arg(short, long, value_name = "PASSWORD")]
    pub password: Option<String>,
    /// Read the password from standard input (one line)
    #[arg(long)]
    pub password_stdin: bool,
    /// Write the credentials to FILE [default: $REGISTRY_AUTH_FILE, else
    /// $XDG_RUNTIME_DIR/containers/auth.json, else ~/.docker/config.json]
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Verify the registry's TLS certificate (=false: skip the check and allow plain HTTP)
    #[arg(long, value_name = "BOOL", num_args = 0..=1, require_equals = true, default_missing_value = "true")]
    pub tls_verify: Option<bool>,
}

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// HOST[:PORT]
    pub registry: String,
    /// Remove the credentials from FILE only [default: from every auth file that has them]
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Print one JSON document
    #[arg(long)]
    pub json: bool,
    /// Omit the header line
    #[arg(long)]
    pub no_headers: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// Image ID (or unique prefix) or NAME[:TAG]
    pub image: String,
    /// Print one JSON document (the stable keys described in the man page)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    /// overlayfs: the layers are shared, writes go to the container's upper directory
    Overlay,
    /// a private copy of the merged layers, bind-mounted (where overlayfs is unavailable)
    Vfs,
}

#[derive(Debug, Args)]
pub struct MountArgs {
    /// Image ID (or unique prefix) or NAME[:TAG]
    pub image: String,
    /// Mount point (an existing directory, unless --mkdir)
    pub target: PathBuf,
    /// Create the mount point if it is missing (its parent must exist), like mount --mkdir
    #[arg(long)]
    pub mkdir: bool,
    /// Write the image's ID to FILE (as docker build --iidfile), so the caller needs no inspect
    #[arg(long, value_name = "FILE")]
    pub iidfile: Option<PathBuf>,
    /// Container ID that owns the writable layer (reused if it exists)
    #[arg(long, value_name = "ID", value_parser = common::parse::parse_container_name)]
    pub container: String,
    /// Mount read-only
    #[arg(long)]
    pub readonly: bool,
    /// For a layer that will not outlive this mount (docker run --rm): overlayfs 'volatile',
    /// no syncs to the disk, so unmounting is quicker; after a crash the layer must be removed
    #[arg(long)]
    pub volatile: bool,
    /// Storage driver
    #[arg(long, value_enum, default_value = "overlay")]
    pub driver: Driver,
}

#[derive(Debug, Args)]
pub struct UmountArgs {
    /// Mount point or container ID
    #[arg(value_name = "TARGET|ID")]
    pub target: String,
}

#[derive(Debug, Args)]
pub struct ContainerArg {
    /// Container ID
    #[arg(value_parser = common::parse::parse_container_name)]
    pub id: String,
}

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// Container ID
    #[arg(value_parser = common::parse::parse_container_name)]
    pub id: String,
    /// Print one JSON document: [{"kind": "A|C|D", "path": "/..."}]
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Container ID
    #[arg(value_parser = common::parse::parse_container_name)]
    pub id: String,
    /// Name of the new image, NAME[:TAG]
    #[arg(long, value_name = "NAME[:TAG]")]
    pub name: String,
    /// Comment recorded in the new image's history
    #[arg(short, long, value_name = "TEXT")]
    pub message: Option<String>,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Container ID, or image ID / NAME[:TAG]
    #[arg(value_name = "ID|IMAGE")]
    pub what: String,
    /// Write to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SaveFormat {
    /// OCI image layout (oci-layout, index.json, blobs/sha256)
    Oci,
    /// docker save format (manifest.json, config, layer tars)
    Docker,
}

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Image ID (or unique prefix) or NAME[:TAG]
    pub image: String,
    /// Write to FILE instead of standard output
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Archive format
    #[arg(long, value_enum, default_value = "oci")]
    pub format: SaveFormat,
}

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Image IDs or NAME[:TAG]s
    #[arg(required = true)]
    pub images: Vec<String>,
    /// Remove even if a container uses the image (its layers stay until the container is removed)
    #[arg(short, long)]
    pub force: bool,
}

#[cfg(test)]
mod tests {
    #[test]
    fn verify_cli() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}

#[derive(Debug, Args)]
pub struct CpArgs {
    /// The file or folder to copy
    #[arg(value_name = "SRC")]
    pub src: PathBuf,
    /// Where to
    #[arg(value_name = "DEST")]
    pub dest: PathBuf,
    /// Resolve SRC in this root folder (the container's)
    #[arg(long, value_name = "DIR")]
    pub from_root: Option<PathBuf>,
    /// Resolve DEST in this root folder (the container's)
    #[arg(long, value_name = "DIR")]
    pub to_root: Option<PathBuf>,
    /// Keep owners (without it, what goes into a root belongs to its root user)
    #[arg(short, long)]
    pub archive: bool,
}
