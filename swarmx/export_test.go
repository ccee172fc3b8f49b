package swarmx

// The compose file's types and steps, for the tests of package swarmx_test.
type (
	Compose          = composeFile
	ComposeObject    = composeObject
	ComposeService   = composeService
	ComposeHealth    = composeHealth
	ComposePort      = composePort
	ComposeMount     = composeMount
	ComposeFileRef   = composeFileRef
	ComposeNetRef    = composeNetRef
	ComposePlacement = composePlacement
	ComposeResources = composeResources
	ComposeResource  = composeResource
)

var (
	ToCompose      = toCompose
	MarshalCompose = marshalCompose
)
