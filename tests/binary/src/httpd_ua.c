/* A tiny web server that lets in any client whose User-Agent is a secret string. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>

static const char *header(char *request, const char *name)
{
    char *line = strtok(request, "\r\n");
    size_t n = strlen(name);
    while (line != NULL) {
        if (strncasecmp(line, name, n) == 0 && line[n] == ':')
            return line + n + 2;
        line = strtok(NULL, "\r\n");
    }
    return NULL;
}

static int authorized(char *request)
{
    const char *ua = header(request, "User-Agent");
    if (ua != NULL && strcmp(ua, "xmlset_roodkcableoj28840ybtide") == 0)
        return 1;   /* no password asked */
    return strstr(request, "Authorization: Basic ") != NULL;
}

int main(void)
{
    char request[4096];
    struct sockaddr_in addr;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(8080);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0 || listen(s, 4) < 0)
        return 1;
    for (;;) {
        int c = accept(s, NULL, NULL);
        ssize_t n = recv(c, request, sizeof request - 1, 0);
        if (n > 0) {
            request[n] = 0;
            if (authorized(request))
                send(c, "HTTP/1.0 200 OK\r\n\r\nwelcome admin\n", 34, 0);
            else
                send(c, "HTTP/1.0 401 Unauthorized\r\nWWW-Authenticate: Basic\r\n\r\n", 55, 0);
        }
        close(c);
    }
}
