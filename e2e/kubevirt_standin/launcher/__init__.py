"""The virt-launcher stand-in: the process of a launcher pod that boots a VMI's guest.

``python -m e2e.kubevirt_standin.launcher`` runs as the ``compute`` container of a launcher
pod the stand-in made for a VMI in a namespace that boots guests (`e2e.kubevirt_standin.guests`).
It reads the launch (`e2e.kubevirt_standin.launch`) from its environment and boots it with
`e2e.guest.qemu` (KVM first, else TCG): the disks, a NoCloud seed from the VMI's cloud-init
volume, user-mode networking with the declared ports forwarded from the pod IP. It reports in
``status.json`` of its directory (`report`), which the stand-in reads:

- ``Booting``: QEMU runs, the guest is not up yet;
- ``Running``: the guest is up (a login prompt or cloud-init's last line on its console);
- ``Failed``: it cannot boot (the launch's problems, QEMU refusing to start, the firmware
  finding no bootable disk, a kernel panic, not up within the boot deadline, QEMU dying); the
  message says which, and the process exits 1 (the pod fails, so does the VMI);
- ``Stopped``: the guest powered off (QEMU exits; the process exits 0), or SIGTERM (the pod
  is deleted: the VMI was stopped, restarted or deleted) shut it down with the ACPI power
  button, waiting up to the VMI's grace period before killing QEMU.

What virt-launcher does that this does not: libvirt, live migration, hotplug, guest agent,
pausing, VNC/serial consoles through virt-api, network bindings other than masquerade-like
user networking, any volume kind but DataVolume/claim disks, containerDisk of the cached guest
image and NoCloud cloud-init.
"""
