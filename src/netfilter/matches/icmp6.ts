/** `-m icmp6 --icmpv6-type` (also implied by `-p icmpv6`). */
import { icmpModule } from './icmp.js';

export default icmpModule('icmp6', 'icmpv6-type', 58, true);
