package redisbus_test

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/ferrycd/ferry/internal/hub"
	"github.com/ferrycd/ferry/internal/hub/bustest"
	"github.com/ferrycd/ferry/internal/hub/redisbus"
	"github.com/ferrycd/ferry/internal/model"
	"github.com/ferrycd/ferry/internal/testenv"
)

func TestItemsCrossReplicasAndSurviveALostConnection(t *testing.T) {
	url := testenv.RedisURL(t)
	// A channel of the test's own, so only this test's transports
	// subscribe to it.
	channel := "ferry:hub:test:" + model.NewID()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatal(err)
	}
	rdb := redis.NewClient(opts)
	defer rdb.Close()
	bustest.Run(t, bustest.Broker{
		Open: func(t *testing.T, logger *slog.Logger) hub.Transport {
			tr, err := redisbus.Open(context.Background(), url, redisbus.Options{Channel: channel, Logger: logger})
			if err != nil {
				t.Fatal(err)
			}
			return tr
		},
		Listeners: func(t *testing.T) []string { return subscribers(t, rdb, channel) },
		Kill: func(t *testing.T, ids []string) {
			for _, id := range ids {
				if err := rdb.Do(context.Background(), "CLIENT", "KILL", "ID", id).Err(); err != nil {
					t.Fatal(err)
				}
			}
		},
	})
}

// subscribers returns the ids of the connections subscribed as the
// transports on channel name themselves.
func subscribers(t *testing.T, rdb *redis.Client, channel string) []string {
	t.Helper()
	list, err := rdb.ClientList(context.Background()).Result()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for line := range strings.SplitSeq(list, "\n") {
		fields := map[string]string{}
		for f := range strings.FieldsSeq(line) {
			k, v, _ := strings.Cut(f, "=")
			fields[k] = v
		}
		if fields["name"] == redisbus.ClientName+"@"+channel && fields["sub"] != "0" && fields["sub"] != "" {
			ids = append(ids, fields["id"])
		}
	}
	return ids
}

func TestAnUnreachableServerFailsOpenWithoutThePassword(t *testing.T) {
	_, err := redisbus.Open(context.Background(), "redis://:s3cret@127.0.0.1:1/0?dial_timeout=2s", redisbus.Options{})
	if err == nil || strings.Contains(err.Error(), "s3cret") || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Errorf("Open = %v, want an error naming the server and never the password", err)
	}
}
