package compute

// Decoders exported for the fuzz tests in package compute_test.
var (
	DecodeFlavorCreate  = decodeFlavorCreate
	DecodeKeypairCreate = decodeKeypairCreate
	DecodeVolumeAttach  = decodeVolumeAttach
	DecodeBlockDevices  = decodeBlockDevices
)
