package testenv

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/wait"
)

func TestMain(m *testing.M) { RunWithKube(m) }

func TestKubeGivesEachTestItsOwnNamespaceAndDeletesIt(t *testing.T) {
	env := Kube(t) // skips (or fails) here when there is no cluster
	var first, second string
	t.Run("first", func(t *testing.T) {
		first = Kube(t).Namespace
	})
	t.Run("second", func(t *testing.T) { second = Kube(t).Namespace })
	if first == "" || first == second || first == env.Namespace {
		t.Fatalf("namespaces %q, %q and %q, want three different ones", env.Namespace, first, second)
	}
	// The first subtest has ended: its namespace is being deleted or gone.
	ctx := context.Background()
	ns, err := env.Clientset.CoreV1().Namespaces().Get(ctx, first, metav1.GetOptions{})
	if err == nil && ns.DeletionTimestamp == nil {
		t.Fatalf("namespace %s of a finished test is not being deleted", first)
	}
	if err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 100*time.Millisecond, time.Minute, true, func(ctx context.Context) (bool, error) {
		_, err := env.Clientset.CoreV1().Namespaces().Get(ctx, first, metav1.GetOptions{})
		return apierrors.IsNotFound(err), nil
	})
	if err != nil {
		t.Fatalf("namespace %s still there: %v", first, err)
	}
}

func TestNamespacePrefixIsAValidDNSLabelStart(t *testing.T) {
	tests := []struct{ name, want string }{
		{"TestApply", "testapply-"},
		{"TestApply/with_a_CRD", "testapply-with-a-crd-"},
		{"TestAVeryLongNameThatGoesOnAndOnBeyondWhatAnyLabelCouldHoldInSixtyThree", "testaverylongnamethatgoesonandonbeyondwhatanylabel-"},
		{"Test/9lives", "test-9lives-"},
		{"/", "t--"},
	}
	for _, tt := range tests {
		if got := namespacePrefix(tt.name); got != tt.want {
			t.Errorf("namespacePrefix(%q) = %q, want %q", tt.name, got, tt.want)
		}
	}
}
