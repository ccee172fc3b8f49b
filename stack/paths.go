package stack

// SecretsDir is where Swarm mounts a service's secrets when a FileRef gives no absolute
// target: secret "db-password" is read at /run/secrets/db-password.
const SecretsDir = "/run/secrets/"

// SecretPath returns the path at which a service reads the secret mounted under name
// (FileRef.Target, or Source when Target is empty), e.g. "/run/secrets/db-password".
// An absolute name is returned as is.
func SecretPath(name string) string {
	if len(name) > 0 && name[0] == '/' {
		return name
	}
	return SecretsDir + name
}
