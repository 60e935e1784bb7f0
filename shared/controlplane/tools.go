//go:build controlplane

// Package controlplane only pins the main packages that shared/Makefile builds:
// go build -tags controlplane is never needed, the build names these packages directly.
package controlplane

import (
	_ "go.etcd.io/etcd/server/v3"
	_ "k8s.io/kubernetes/cmd/kube-apiserver"
	_ "k8s.io/kubernetes/cmd/kube-controller-manager"
)
