"""Real guests for the e2e harness: a Debian guest image built from packages (`image`), booted
under QEMU with a cloud-init NoCloud seed (`qemu`), and the host programs both need
(`host_tools`). ``python -m e2e.guest build`` builds the image; see e2e/README.md."""
