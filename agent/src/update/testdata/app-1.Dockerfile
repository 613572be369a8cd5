FROM localhost/busybox:latest
ENV PATH=/usr/local/bin:/bin FOO=old
LABEL org.example.version=1 org.example.flavor=old
WORKDIR /srv
EXPOSE 8080/tcp
HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD test -f /tmp/ok || exit 1
CMD ["sh", "-c", "touch /tmp/ok; exec sleep 600"]
