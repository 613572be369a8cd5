FROM localhost/busybox:latest
ENV PATH=/usr/local/sbin:/usr/local/bin:/bin FOO=new
LABEL org.example.version=2
WORKDIR /app
EXPOSE 9090/tcp
HEALTHCHECK --interval=1s --timeout=1s --retries=2 CMD test -f /tmp/ok || exit 1
CMD ["sh", "-c", "touch /tmp/ok; exec sleep 601"]
