# The lockstep container image: the static release binary and nothing else
# but what distroless/static provides (CA certificates for rediss://, tzdata,
# /etc/passwd with the unprivileged "nonroot" user, a writable /tmp for the
# local backend's default directory).
#
# goreleaser builds it (dockers_v2 in .goreleaser.yaml) from the same
# CGO_ENABLED=0 binaries as the release archives, one per platform in
# $TARGETPLATFORM/lockstep of the build context. To build it by hand:
#
#   mkdir -p ctx/linux/amd64
#   CGO_ENABLED=0 GOOS=linux GOARCH=amd64 go build -trimpath -o ctx/linux/amd64/lockstep ./cmd/lockstep
#   docker buildx build --platform linux/amd64 -f Dockerfile ctx
#
# Use it as the base of your own image, or copy the binary out of it:
#   COPY --from=ghcr.io/lockstep-dev/lockstep:1 /usr/local/bin/lockstep /usr/local/bin/lockstep
FROM gcr.io/distroless/static-debian12:nonroot
ARG TARGETPLATFORM
COPY $TARGETPLATFORM/lockstep /usr/local/bin/lockstep
USER nonroot:nonroot
ENTRYPOINT ["/usr/local/bin/lockstep"]
CMD ["--help"]
