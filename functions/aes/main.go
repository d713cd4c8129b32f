// Command aes is the AES-256-GCM workload of the Lumos paper. It takes a
// JSON body {"key": "<32 bytes>", "message": "...", "op": "encrypt"}, the
// paper's input ("op" defaults to encrypt), and answers
//
//	encrypt: {"op": "encrypt", "ciphertext": base64(nonce || sealed message || tag)}
//	decrypt: {"op": "decrypt", "plaintext": "..."}
//
// with a fresh random 12-byte nonce per encryption and the standard
// 16-byte tag; decrypt takes such a ciphertext (standard base64, padded) as
// "message". It answers 400 when the body is not such JSON, the key is not
// exactly 32 bytes, op is unknown, or a ciphertext is not base64, too short
// or fails authentication (a wrong key or tampered bytes).
package main

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"

	"github.com/lumos-edge/lumos/functions/sdk"
)

// keyBytes is AES-256's key size.
const keyBytes = 32

func main() { sdk.Serve(handle) }

type input struct {
	Key     *string `json:"key"`
	Message *string `json:"message"`
	Op      string  `json:"op"`
}

type output struct {
	Op         string  `json:"op"`
	Ciphertext *string `json:"ciphertext,omitempty"`
	Plaintext  *string `json:"plaintext,omitempty"`
}

func handle(r *sdk.Request) (*sdk.Response, error) {
	if len(r.Body) == 0 {
		return nil, sdk.Errorf(400, `give a JSON body {"key": "<32 bytes>", "message": "...", "op": "encrypt" or "decrypt"}`)
	}
	var in input
	if err := json.Unmarshal(r.Body, &in); err != nil {
		return nil, sdk.Errorf(400, "bad JSON body: %v", err)
	}
	if in.Key == nil || in.Message == nil {
		return nil, sdk.Errorf(400, `JSON body needs "key" and "message"`)
	}
	if len(*in.Key) != keyBytes {
		return nil, sdk.Errorf(400, "key is %d bytes, want %d (AES-256)", len(*in.Key), keyBytes)
	}
	block, err := aes.NewCipher([]byte(*in.Key))
	if err != nil {
		return nil, err // cannot happen for a 32-byte key
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	out := output{Op: in.Op}
	switch in.Op {
	case "", "encrypt":
		out.Op = "encrypt"
		nonce := make([]byte, gcm.NonceSize(), gcm.NonceSize()+len(*in.Message)+gcm.Overhead())
		if _, err := rand.Read(nonce); err != nil {
			return nil, err
		}
		ct := base64.StdEncoding.EncodeToString(gcm.Seal(nonce, nonce, []byte(*in.Message), nil))
		out.Ciphertext = &ct
	case "decrypt":
		raw, err := base64.StdEncoding.DecodeString(*in.Message)
		if err != nil {
			return nil, sdk.Errorf(400, "message is not standard base64: %v", err)
		}
		if len(raw) < gcm.NonceSize()+gcm.Overhead() {
			return nil, sdk.Errorf(400, "ciphertext of %d bytes is shorter than nonce and tag (%d)", len(raw), gcm.NonceSize()+gcm.Overhead())
		}
		pt, err := gcm.Open(nil, raw[:gcm.NonceSize()], raw[gcm.NonceSize():], nil)
		if err != nil {
			return nil, sdk.Errorf(400, "decrypt: message authentication failed (wrong key or tampered ciphertext)")
		}
		s := string(pt)
		out.Plaintext = &s
	default:
		return nil, sdk.Errorf(400, `op=%q: want "encrypt" or "decrypt"`, in.Op)
	}
	body, err := json.Marshal(out)
	if err != nil {
		return nil, err
	}
	return &sdk.Response{
		Status: 200,
		Header: []sdk.Header{{Name: "Content-Type", Value: "application/json"}},
		Body:   append(body, '\n'),
	}, nil
}
