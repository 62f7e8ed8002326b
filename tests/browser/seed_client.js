/*
 * The seed's browser client, copied VERBATIM — do not edit below this comment.
 *
 * Source: the original design document (/work/shared/seed/000_62db937a31797860.txt),
 * section "## 客户端集成" → "### JavaScript WebSocket客户端示例": the class
 * `AutoAdsWebSocket`, from `class AutoAdsWebSocket {` to its closing `}`.
 * The block's last two lines (its "// 使用示例" usage example with the placeholder
 * token 'your-jwt-token') are not copied: seed_page.html runs the same two lines
 * with a real token.
 *
 * seed_client.test.mjs checks that everything after this comment equals that part
 * of the seed's code block byte for byte, and runs it in headless Chromium against
 * notifyd.
 */
class AutoAdsWebSocket {
  constructor(token) {
    this.token = token;
    this.ws = null;
    this.reconnectAttempts = 0;
    this.maxReconnectAttempts = 5;
    this.reconnectInterval = 5000;
  }

  connect() {
    const wsUrl = `ws://localhost:8080/ws?token=${this.token}`;
    this.ws = new WebSocket(wsUrl);

    this.ws.onopen = (event) => {
      console.log('WebSocket connected');
      this.reconnectAttempts = 0;
      this.sendMessage('client_ready', {});
    };

    this.ws.onmessage = (event) => {
      const message = JSON.parse(event.data);
      this.handleMessage(message);
    };

    this.ws.onclose = (event) => {
      console.log('WebSocket disconnected');
      this.reconnect();
    };

    this.ws.onerror = (error) => {
      console.error('WebSocket error:', error);
    };
  }

  handleMessage(message) {
    switch (message.type) {
      case 'batchgo_open_url':
        this.handleBatchGoOpenURL(message.data);
        break;
      case 'batchgo_progress':
        this.handleTaskProgress(message.data);
        break;
      case 'system_notification':
        this.handleSystemNotification(message.data);
        break;
      case 'token_insufficient':
        this.handleTokenInsufficient(message.data);
        break;
      case 'plan_expiring':
        this.handlePlanExpiring(message.data);
        break;
      case 'ping':
        this.sendMessage('pong', {});
        break;
      default:
        console.log('Unknown message type:', message.type);
    }
  }

  handleBatchGoOpenURL(data) {
    // BatchGo Basic模式 - 打开URL
    data.urls.forEach((url, index) => {
      setTimeout(() => {
        window.open(url, '_blank');
      }, index * data.delay);
    });
  }

  handleTaskProgress(data) {
    // 更新任务进度UI
    const progressBar = document.getElementById(`progress-${data.task_id}`);
    if (progressBar) {
      progressBar.style.width = `${data.progress}%`;
      progressBar.textContent = `${data.completed}/${data.total}`;
    }
  }

  handleSystemNotification(data) {
    // 显示系统通知
    this.showNotification(data.title, data.message, data.level);
  }

  handleTokenInsufficient(data) {
    // 显示Token不足提醒
    this.showNotification(
      'Token余额不足',
      `当前余额: ${data.current_balance}, 需要: ${data.required_tokens}`,
      'warning'
    );
  }

  handlePlanExpiring(data) {
    // 显示套餐过期提醒
    this.showNotification(
      '套餐即将过期',
      `${data.plan_name}套餐还有${data.days_left}天过期`,
      'warning'
    );
  }

  sendMessage(type, data) {
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      const message = {
        type: type,
        data: data,
        timestamp: Date.now()
      };
      this.ws.send(JSON.stringify(message));
    }
  }

  reconnect() {
    if (this.reconnectAttempts < this.maxReconnectAttempts) {
      this.reconnectAttempts++;
      setTimeout(() => {
        console.log(`Reconnecting... (${this.reconnectAttempts}/${this.maxReconnectAttempts})`);
        this.connect();
      }, this.reconnectInterval);
    }
  }

  showNotification(title, message, level) {
    // 实现通知显示逻辑
    console.log(`[${level.toUpperCase()}] ${title}: ${message}`);
  }

  disconnect() {
    if (this.ws) {
      this.ws.close();
    }
  }
}
