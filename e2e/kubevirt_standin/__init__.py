"""A stand-in for KubeVirt's virt-controller (and CDI's importer), for the local e2e cluster only.

KubeVirt's own controllers cannot run here (no container engine, no KVM-backed virt-handler), but
its CRDs are installed with their real schemas. This process watches ``kubevirt.io/v1``
VirtualMachines, VirtualMachineInstances, their launcher pods and ``cdi.kubevirt.io/v1beta1``
DataVolumes with the Kubernetes Python client and moves them through KubeVirt's real states:

- VirtualMachine: run strategies (Always, RerunOnFailure, Once, Manual, Halted; the deprecated
  ``spec.running``) create and delete the VirtualMachineInstance (named as the VM, owned by it);
  ``status`` as virt-controller writes it (printableStatus, ready, created, conditions,
  observedGeneration, desiredGeneration, runStrategy, startFailure and CrashLoopBackOff).
- VirtualMachineInstance: a launcher pod ``virt-launcher-<vmi>-<5 chars>`` that the real
  scheduler places on a kwok node and the node agent really runs: a sleeping process, or,
  where guests boot (`guests`), `launcher`, which boots the guest under QEMU; phase Pending ->
  Scheduling -> Scheduled -> Running (with a guest: once it is up), nodeName, the pod IP as
  the interface address, the Ready condition; an unschedulable pod's condition; a guest's
  failure.
- DataVolume: the importer's phases up to Succeeded, or Failed when the source cannot be read;
  where guests boot, the source really copied (`importer`).

What it does not do is listed in e2e/README.md ("KubeVirt in the local cluster"). It is never
part of the operator or the storage nodes: it exists so that their end-to-end tests meet the
states a real KubeVirt would show.
"""
