/* Decoy: a UDP echo daemon; it compares input with a constant but runs nothing. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(void)
{
    char packet[512];
    struct sockaddr_in addr, peer;
    socklen_t len;
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons(7);
    if (bind(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        return 1;
    for (;;) {
        char *body = packet;
        ssize_t n;
        len = sizeof peer;
        n = recvfrom(s, packet, sizeof packet - 1, 0, (struct sockaddr *)&peer, &len);
        if (n <= 0)
            continue;
        packet[n] = 0;
        if (strncmp(body, "PING", 4) == 0)
            sendto(s, "PONG", 4, 0, (struct sockaddr *)&peer, len);
        else
            sendto(s, body, (size_t)n, 0, (struct sockaddr *)&peer, len);
    }
}
