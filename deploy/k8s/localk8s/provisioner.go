package localk8s

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Annotations of the provisioning protocol: the scheduler names the node
// of a WaitForFirstConsumer claim; a PersistentVolume says who made it.
const (
	annSelectedNode  = "volume.kubernetes.io/selected-node"
	annProvisionedBy = "pv.kubernetes.io/provisioned-by"
)

// Provision runs the local-volume provisioner until ctx ends: a claim of
// the default StorageClass ("local") gets a local PersistentVolume in a
// fresh directory under volumes/ once the scheduler has placed its pod; a
// released volume (its claim deleted) is removed with its directory, as
// reclaimPolicy Delete says. It polls twice a second: a handful of small
// requests, no watch to re-establish.
func (c *Cluster) Provision(ctx context.Context) error {
	k, err := c.NewClient("provisioner")
	if err != nil {
		return err
	}
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	var lastErr string
	for {
		if err := c.provisionOnce(ctx, k); err != nil && ctx.Err() == nil && err.Error() != lastErr {
			lastErr = err.Error()
			fmt.Fprintf(os.Stderr, "%s provisioner: %v\n", time.Now().Format(time.RFC3339), err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

func (c *Cluster) provisionOnce(ctx context.Context, k *Client) error {
	var claims corev1.PersistentVolumeClaimList
	if err := k.Get(ctx, "/api/v1/persistentvolumeclaims", &claims); err != nil {
		return err
	}
	for i := range claims.Items {
		pvc := &claims.Items[i]
		if pvc.Status.Phase != corev1.ClaimPending || pvc.Spec.VolumeName != "" || pvc.DeletionTimestamp != nil ||
			pvc.Spec.StorageClassName == nil || *pvc.Spec.StorageClassName != storageClass || pvc.Annotations[annSelectedNode] == "" {
			continue
		}
		if err := c.createVolume(ctx, k, pvc); err != nil {
			return err
		}
	}
	var volumes corev1.PersistentVolumeList
	if err := k.Get(ctx, "/api/v1/persistentvolumes", &volumes); err != nil {
		return err
	}
	for i := range volumes.Items {
		pv := &volumes.Items[i]
		if pv.Annotations[annProvisionedBy] != provisionerName || pv.DeletionTimestamp != nil ||
			(pv.Status.Phase != corev1.VolumeReleased && pv.Status.Phase != corev1.VolumeFailed) {
			continue
		}
		if pv.Spec.Local == nil || !strings.HasPrefix(pv.Spec.Local.Path, c.path("volumes")+string(filepath.Separator)) {
			continue
		}
		if err := os.RemoveAll(pv.Spec.Local.Path); err != nil {
			return fmt.Errorf("remove %s: %w", pv.Spec.Local.Path, err)
		}
		if err := k.Delete(ctx, "/api/v1/persistentvolumes/"+pv.Name); err != nil {
			return err
		}
	}
	return nil
}

// createVolume makes a directory and a PersistentVolume bound to pvc.
func (c *Cluster) createVolume(ctx context.Context, k *Client, pvc *corev1.PersistentVolumeClaim) error {
	name := "pvc-" + string(pvc.UID)
	dir := c.path("volumes", name)
	// The kubelet gives the volume to the pod's fsGroup (a local volume,
	// unlike a hostPath one, gets that treatment).
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	size := pvc.Spec.Resources.Requests[corev1.ResourceStorage]
	if size.IsZero() {
		size = resource.MustParse("1Gi")
	}
	mode := corev1.PersistentVolumeFilesystem
	pv := &corev1.PersistentVolume{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "PersistentVolume"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        name,
			Annotations: map[string]string{annProvisionedBy: provisionerName},
		},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: size},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimDelete,
			StorageClassName:              storageClass,
			VolumeMode:                    &mode,
			ClaimRef: &corev1.ObjectReference{
				Kind: "PersistentVolumeClaim", APIVersion: "v1",
				Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
			},
			PersistentVolumeSource: corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: dir}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{
					Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{NodeName},
				}}}},
			}},
		},
	}
	if err := k.Create(ctx, "/api/v1/persistentvolumes", pv, nil); err != nil && !IsConflict(err) {
		return fmt.Errorf("create the volume of %s/%s: %w", pvc.Namespace, pvc.Name, err)
	}
	return nil
}
