// Command kubevirt-crdgen writes KubeVirt's VirtualMachine and VirtualMachineInstance
// CustomResourceDefinitions exactly as virt-operator builds them (same Go functions, same
// release), one YAML file per CRD, for `python -m e2e.cluster build`.
//
//	kubevirt-crdgen --version   prints the kubevirt.io modules this binary was built from
//	kubevirt-crdgen DIR         writes DIR/<crd name>.yaml
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"

	extv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"kubevirt.io/kubevirt/pkg/virt-operator/resource/generate/components"
	"sigs.k8s.io/yaml"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: kubevirt-crdgen --version | kubevirt-crdgen DIR")
		os.Exit(2)
	}
	if os.Args[1] == "--version" {
		printVersions()
		return
	}
	if err := writeAll(os.Args[1]); err != nil {
		fmt.Fprintln(os.Stderr, "kubevirt-crdgen:", err)
		os.Exit(1)
	}
}

// printVersions reports the kubevirt.io modules linked in, from the binary's build info.
func printVersions() {
	info, ok := debug.ReadBuildInfo()
	if !ok {
		fmt.Println("kubevirt-crdgen: no build info")
		return
	}
	for _, dep := range info.Deps {
		if strings.HasPrefix(dep.Path, "kubevirt.io/") {
			fmt.Printf("%s %s\n", dep.Path, dep.Version)
		}
	}
}

func writeAll(dir string) error {
	builders := []func() (*extv1.CustomResourceDefinition, error){
		components.NewVirtualMachineCrd,
		components.NewVirtualMachineInstanceCrd,
	}
	for _, build := range builders {
		crd, err := build()
		if err != nil {
			return err
		}
		if err := write(dir, crd); err != nil {
			return err
		}
	}
	return nil
}

// write stores one CRD as YAML without the fields an API server fills in (status,
// creationTimestamp), as KubeVirt's own resource generator does.
func write(dir string, crd *extv1.CustomResourceDefinition) error {
	raw, err := json.Marshal(crd)
	if err != nil {
		return err
	}
	var object map[string]interface{}
	if err := json.Unmarshal(raw, &object); err != nil {
		return err
	}
	delete(object, "status")
	if metadata, ok := object["metadata"].(map[string]interface{}); ok {
		delete(metadata, "creationTimestamp")
	}
	text, err := yaml.Marshal(object)
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, crd.Name+".yaml"), text, 0o644)
}
