package auth

import (
	"fmt"

	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/reflect/protoreflect"

	ferryv1 "github.com/ferrycd/ferry/api/gen/ferry/v1"
	"github.com/ferrycd/ferry/internal/model"
)

// RequiredRoles maps every procedure of the API ("/ferry.v1.X/Method") to the
// role its definition requires; methods without one map to UNSPECIFIED.
func RequiredRoles() map[string]ferryv1.Role {
	out := map[string]ferryv1.Role{}
	for _, fd := range []protoreflect.FileDescriptor{
		ferryv1.File_ferry_v1_agent_service_proto,
		ferryv1.File_ferry_v1_user_service_proto,
	} {
		svcs := fd.Services()
		for i := 0; i < svcs.Len(); i++ {
			methods := svcs.Get(i).Methods()
			for j := 0; j < methods.Len(); j++ {
				m := methods.Get(j)
				role, _ := proto.GetExtension(m.Options(), ferryv1.E_RequiredRole).(ferryv1.Role)
				out[fmt.Sprintf("/%s/%s", svcs.Get(i).FullName(), m.Name())] = role
			}
		}
	}
	return out
}

// RoleOf is the person's role an API role names: viewer, editor or admin;
// false for the agent's role and for none.
func RoleOf(r ferryv1.Role) (model.Role, bool) {
	switch r {
	case ferryv1.Role_ROLE_VIEWER:
		return model.RoleViewer, true
	case ferryv1.Role_ROLE_EDITOR:
		return model.RoleEditor, true
	case ferryv1.Role_ROLE_ADMIN:
		return model.RoleAdmin, true
	}
	return "", false
}
