// Command etcd is etcd's own server, built from go.etcd.io/etcd/server/v3 at
// the version k8s.io/kubernetes pins, so the local cluster's datastore
// matches what the API server is tested against.
package main

import (
	"os"

	"go.etcd.io/etcd/server/v3/etcdmain"
)

func main() {
	etcdmain.Main(os.Args)
}
