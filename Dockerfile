# The reconciler command in a container: `docker build -t brightpattern-reconciler .`, then
# `docker run --rm --user "$(id -u):$(id -g)" -v "$PWD:/data" -e BP_USERNAME -e BP_PASSWORD brightpattern-reconciler
# run ...` (--user: the image's own uid 10001 could not write to a folder of yours mounted on /data).
# Stage 1 builds the wheel from this tree; stage 2 installs that wheel alone (no source, no build tools).
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir "build>=1.2"
COPY pyproject.toml README.md ./
COPY reconciler ./reconciler
RUN python -m build --wheel --outdir /dist

FROM python:3.11-slim
COPY --from=build /dist/ /tmp/dist/
# With the report extra, so that `reconciler report` and `run --audit` work in the image too.
RUN wheel=$(ls /tmp/dist/brightpattern_reconciler-*.whl) \
    && pip install --no-cache-dir "${wheel}[report]" \
    && rm -rf /tmp/dist \
    && useradd --create-home --uid 10001 reconciler \
    && mkdir /data && chown reconciler /data
USER reconciler
# Run as another uid (docker run --user), HOME is not writable: matplotlib (--audit) caches here instead.
ENV MPLCONFIGDIR=/tmp/matplotlib
# Relative paths in a run (input, output, journal, report) resolve under the mounted folder.
WORKDIR /data
ENTRYPOINT ["reconciler"]
CMD ["--help"]
