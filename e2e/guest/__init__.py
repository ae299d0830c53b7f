"""Real guests for the e2e harness: a Debian guest image built from packages on a disk that
firmware boots (`image`), booted under QEMU through SeaBIOS with a cloud-init NoCloud seed
(`qemu`), and the host programs both need (`host_tools`). ``python -m e2e.guest build`` builds
the image; see e2e/guest/README.md."""
