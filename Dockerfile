# The temporal-mlops worker. Build: docker build -t temporal-mlops-worker .
FROM node:20-bookworm-slim
WORKDIR /app
ENV NODE_ENV=production
COPY package.json package-lock.json ./
# node:20's npm 10 does not read package.json's allowScripts: keep onnxruntime-node from
# downloading CUDA libraries the worker does not use (its CPU build ships in the package).
RUN ONNXRUNTIME_NODE_INSTALL=skip npm ci --omit=dev --no-audit --no-fund
COPY tsconfig.json ./
COPY bin ./bin
COPY src ./src
ENV MLOPS_DATA_DIR=/data
# Owned by the unprivileged user before VOLUME, so a fresh named volume is writable by the worker.
RUN mkdir -p /data && chown node:node /data
VOLUME ["/data"]
USER node
CMD ["node", "-r", "tsx/cjs", "src/worker.ts"]
